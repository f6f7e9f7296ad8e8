//! The start page.

mod handlers;
mod views;

use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new().get("/", Access::Public, Phi::None, handlers::index)
}
