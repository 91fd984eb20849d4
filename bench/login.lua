-- wrk script: POST a JSON login (credentials from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', os.getenv("ISMS_BENCH_EMAIL"), os.getenv("ISMS_BENCH_PASSWORD"))
