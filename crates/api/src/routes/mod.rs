pub mod alerts;
pub mod audit;
pub mod auth;
pub mod docs;
pub mod health;
pub mod mfa;
pub mod policy;
pub mod users;
