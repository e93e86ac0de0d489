//! The collection value types. Each keeps a compact encoding while small (like Redis's listpack)
//! and converts to an indexed one past the `*-max-listpack-*` thresholds; `encoding()` names the
//! current one for OBJECT ENCODING.

pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
mod stream_pack;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::StreamValue;
pub use zset::ZSetValue;
