//! Table rows for check-template: intrinsics, linking, conditions and verdicts.
use super::*;
