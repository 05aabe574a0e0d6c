//! Remote target types whose support is not in this build.
//!
//! Each remote type will arrive behind its provider's cargo feature. Until then, or in a build
//! without that feature, its targets fail one by one with an error that says so, and the rest
//! of the run goes on.

use super::{FlushFailure, Readback, SecretData, Target, TargetError};
use crate::secretfile::{Secret, TargetDef, TargetKind};

#[derive(Debug)]
pub struct Unsupported;

fn error(target: &TargetDef) -> TargetError {
    let kind = match &target.kind {
        TargetKind::Remote(remote) => remote.kind,
        TargetKind::LocalFile(_) => unreachable!("local files are always supported"),
    };
    TargetError::Unsupported { kind: kind.name(), id: target.id.clone() }
}

impl Target for Unsupported {
    fn read(&mut self, _: &Secret, target: &TargetDef) -> Readback {
        Readback::Unreadable(error(target).to_string())
    }

    fn write(&mut self, _: &Secret, target: &TargetDef, _: &SecretData) -> Result<(), TargetError> {
        Err(error(target))
    }

    /// A dry run shows the write as skipped, since it is certain to fail.
    fn available(&self, target: &TargetDef) -> Result<(), String> {
        Err(error(target).to_string())
    }

    fn flush(&mut self) -> Vec<FlushFailure> {
        Vec::new()
    }
}
