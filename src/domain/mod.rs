//! Pure business rules: no tonic, no sqlx, no clock reads. Everything here
//! takes the instant or date it works on as a parameter.

pub mod calendar;
pub mod contract;
pub mod dates;
pub mod holidays;
pub mod inquiry;
pub mod license;
pub mod reply_to;
pub mod token;
