//! Extractors that turn every kind of bad input into the JSON error model:
//! wrong media type 415, body over the limit 413, malformed JSON 400
//! `invalid_json`, wrong shape or unknown fields 422 `validation_failed`
//! (request types use `deny_unknown_fields`, so mass assignment is
//! impossible), rule violations 422 with per-field details, bad path or
//! query parameters 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;

/// A JSON body, parsed strictly and validated with `garde`; also a JSON
/// response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Ok(mime) = ct.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix().is_some_and(|s| s == mime::JSON))
}

pub(crate) fn field_errors(fields: Vec<Value>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "The request failed validation.",
    )
    .with_details(json!({ "fields": fields }))
}

fn report_errors(report: garde::Report) -> ApiError {
    field_errors(
        report
            .iter()
            .map(|(path, error)| json!({ "field": path.to_string(), "code": "invalid", "message": error.to_string() }))
            .collect(),
    )
}

/// Parses and validates a JSON document.
pub fn parse_json<T>(bytes: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Unknown fields are rejected structurally, even for a request type
    // that forgot `deny_unknown_fields`: mass assignment stays impossible.
    let mut ignored = Vec::new();
    // serde_ignored writes `?` for an `Option` level; clients know the
    // field by its JSON path only.
    let mut on_ignored = |path: serde_ignored::Path<'_>| {
        ignored.push(path.to_string().replace(".?", "").replace("?.", ""))
    };
    let tracked = serde_ignored::Deserializer::new(&mut de, &mut on_ignored);
    let value: T = match serde_path_to_error::deserialize(tracked) {
        Ok(v) => v,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    let (field, code) = data_error_field(&path, &inner.to_string());
                    field_errors(vec![json!({
                        "field": field,
                        "code": code,
                        "message": inner.to_string(),
                    })])
                }
                _ => invalid_json(&inner),
            });
        }
    };
    de.end().map_err(|e| invalid_json(&e))?;
    if !ignored.is_empty() {
        return Err(field_errors(
            ignored
                .into_iter()
                .map(|field| json!({ "field": field, "code": "unknown_field", "message": "unknown field" }))
                .collect(),
        ));
    }
    value.validate().map_err(report_errors)?;
    Ok(value)
}

/// The field path and code of a serde data error. serde reports missing,
/// unknown and duplicated fields at the enclosing object, so the path
/// alone would be `.` for a top-level field; the field's name is only in
/// serde's (stable) message, e.g. "missing field `name` at line 1 column 2".
fn data_error_field(path: &str, message: &str) -> (String, &'static str) {
    let kinds = [
        ("missing field `", "required"),
        ("unknown field `", "unknown_field"),
        ("duplicate field `", "duplicate_field"),
    ];
    for (prefix, code) in kinds {
        if let Some(name) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
        {
            let field = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return (field, code);
        }
    }
    (path.to_owned(), "invalid")
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!(
            "The request body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ),
    )
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "The request body could not be read.",
                )
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a value that does not parse (e.g. a malformed UUID)
/// is 400 `invalid_path`, never a 500.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "A path parameter is malformed.",
                )
            })
    }
}

/// Query parameters, parsed strictly (unknown parameters are rejected when
/// the type denies unknown fields) and validated.
#[derive(Debug, Clone, Copy)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "A query parameter is malformed.",
                )
            })?
            .0;
        value.validate().map_err(report_errors)?;
        Ok(Query(value))
    }
}

/// Parses an `application/x-www-form-urlencoded` body with the same
/// strictness as JSON: 415 for another media type, 422 for unknown or
/// malformed fields, then `garde` rules.
pub fn parse_form<T>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION && m.subtype() == mime::WWW_FORM_URLENCODED
        });
    if !is_form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let value: T = serde_urlencoded::from_bytes(body).map_err(|e| {
        field_errors(vec![
            json!({ "field": "", "code": "invalid", "message": e.to_string() }),
        ])
    })?;
    value.validate().map_err(report_errors)?;
    Ok(value)
}
