pub mod docs;
pub mod health;
