//! Calls to Envoy's admin API: `drain_listeners` and the active gauges.
//!
//! It must never report a count it could not read: an unreadable answer is
//! [`Active::Unknown`], never 0 (the caller decides what unknown means).

use std::time::Duration;

use crate::call::Caller;
use crate::stats::{sum_active, ActiveStat, Gauges};

/// One reading of the active gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Active {
    Known(u64),
    Unknown(String),
}

fn base(admin: &str) -> &str {
    admin.trim_end_matches('/')
}

/// `POST <admin>/drain_listeners?graceful&skip_exit`.
pub async fn drain_listeners(caller: &Caller, admin: &str) -> Result<u16, String> {
    let url = format!("{}/drain_listeners?graceful&skip_exit", base(admin));
    match caller.post(&url).await {
        Ok(a) if a.status == 200 => Ok(a.status),
        Ok(a) => Err(format!("HTTP {}", a.status)),
        Err(e) => Err(e.to_string()),
    }
}

/// The URL polled for `stat`.
pub fn stats_url(admin: &str, stat: ActiveStat) -> String {
    format!("{}/stats?filter={}", base(admin), stat.query())
}

/// `GET <admin>/stats?filter=...`, summed; the call gets at most `timeout`.
pub async fn read_active(
    caller: &Caller,
    admin: &str,
    stat: ActiveStat,
    timeout: Duration,
) -> Active {
    match caller.get_within(&stats_url(admin, stat), timeout).await {
        Ok(a) if a.status == 200 => match sum_active(&a.body, stat) {
            Ok(n) => Active::Known(n),
            Err(e) => Active::Unknown(e.to_string()),
        },
        Ok(a) => Active::Unknown(format!("HTTP {}", a.status)),
        Err(e) => Active::Unknown(e.to_string()),
    }
}
