//! Table rows for the template judge on hand-built units.

use super::*;
