//! Application services: one per use-case family. They validate input with
//! domain rules, call ports and translate failures into `AppError`.

pub mod bootstrap;
pub mod error;
pub mod secrets;
pub mod tenants;
pub mod users;

pub use error::AppError;
