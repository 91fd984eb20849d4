//! Envelope encryption overhead: raw AES-256-GCM on 1 KiB against our
//! `seal`/`open` of 1 KiB including what a real call does around it (DEK
//! cache lookup, AAD construction, envelope encode/decode, random nonce).
//! Target: within 2× of raw. Also the blind-index computation a login pays
//! for the e-mail lookup. Run with
//! `cargo bench -p isms-infra --bench crypto_throughput`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce, Tag};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use isms_domain::TenantId;
use isms_domain::crypto::{Aad, Classification, Envelope, KeyRef};
use isms_infra::crypto::{BlindIndex, Dek, DekCache, IndexKey, open, seal};

const LEN: usize = 1024;
const ROW: &str = "0190a8b2-0000-7000-8000-000000000001";

fn raw(c: &mut Criterion) {
    let key = [7u8; 32];
    let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
    let nonce = Nonce::from([1u8; 12]);
    // An AAD of the size ours has for this row, so the GHASH work matches.
    let aad = vec![0u8; 7 + 17 + 24 + "risks".len() + "treatment_notes".len() + ROW.len()];
    let plaintext = vec![0x5au8; LEN];
    let mut sealed = plaintext.clone();
    let tag = cipher
        .encrypt_in_place_detached(&nonce, &aad, &mut sealed)
        .unwrap();

    let mut g = c.benchmark_group("aes_gcm_raw_1KiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("encrypt", |b| {
        b.iter(|| {
            let mut buf = black_box(&plaintext).clone();
            let tag = cipher
                .encrypt_in_place_detached(&nonce, &aad, &mut buf)
                .unwrap();
            black_box((buf, tag))
        })
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| {
            let mut buf = black_box(&sealed).clone();
            cipher
                .decrypt_in_place_detached(&nonce, &aad, &mut buf, &Tag::from(tag))
                .unwrap();
            black_box(buf)
        })
    });
    g.finish();
}

fn envelope(c: &mut Criterion) {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Confidential, 3);
    let cache = DekCache::new(1000, Duration::from_secs(600));
    cache.insert(key, Dek::generate().unwrap());
    // Other tenants' keys in the cache, so the lookup is not trivially hot.
    for _ in 0..200 {
        cache.insert(
            KeyRef::new(TenantId::new(), Classification::Internal, 1),
            Dek::generate().unwrap(),
        );
    }
    let plaintext = vec![0x5au8; LEN];
    let stored = {
        let dek = cache.get(&key).unwrap();
        let aad = Aad::field(tenant, "risks", "treatment_notes", ROW);
        seal(&dek, &key, &aad, &plaintext).unwrap().encode()
    };

    let mut g = c.benchmark_group("envelope_1KiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("seal", |b| {
        b.iter(|| {
            let dek = cache.get(black_box(&key)).unwrap();
            let aad = Aad::field(tenant, "risks", "treatment_notes", ROW);
            black_box(
                seal(&dek, &key, &aad, black_box(&plaintext))
                    .unwrap()
                    .encode(),
            )
        })
    });
    g.bench_function("open", |b| {
        b.iter(|| {
            let env = Envelope::decode(black_box(&stored)).unwrap();
            let key = env.key_ref(tenant).unwrap();
            let dek = cache.get(&key).unwrap();
            let aad = Aad::field(tenant, "risks", "treatment_notes", ROW);
            black_box(open(&dek, &env, &aad).unwrap())
        })
    });
    g.finish();
}

/// Where the difference goes: each step of a call on its own.
fn parts(c: &mut Criterion) {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Confidential, 3);
    let cache = DekCache::new(1000, Duration::from_secs(600));
    cache.insert(key, Dek::generate().unwrap());
    let header = isms_domain::crypto::EnvelopeHeader::data_key(&key);
    let stored = {
        let dek = cache.get(&key).unwrap();
        let aad = Aad::field(tenant, "risks", "treatment_notes", ROW);
        seal(&dek, &key, &aad, &[0x5au8; LEN]).unwrap().encode()
    };

    let mut g = c.benchmark_group("envelope_parts");
    g.bench_function("dek_cache_get", |b| {
        b.iter(|| black_box(cache.get(black_box(&key))))
    });
    g.bench_function("aad_field_bind", |b| {
        b.iter(|| black_box(Aad::field(tenant, "risks", "treatment_notes", ROW).bind(&header)))
    });
    g.bench_function("decode_1KiB", |b| {
        b.iter(|| black_box(Envelope::decode(black_box(&stored)).unwrap()))
    });
    g.bench_function("aes_gcm_key_setup", |b| {
        b.iter(|| black_box(Aes256Gcm::new_from_slice(black_box(&[7u8; 32])).unwrap()))
    });
    g.finish();
}

/// What the server-wide e-mail lookup adds to a login: one keyed index of
/// the normalised address, next to an Argon2id verification of ~10 ms.
fn blind_index(c: &mut Criterion) {
    let index = BlindIndex::new(TenantId::new(), IndexKey::generate().unwrap());
    c.bench_function("blind_index_email", |b| {
        b.iter(|| {
            black_box(
                index
                    .compute("email", black_box(" Alice.Example@Example.COM "))
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, raw, envelope, parts, blind_index);
criterion_main!(benches);
