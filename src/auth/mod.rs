//! Credentials the emulator checks on behalf of AWS services other than ElastiCache itself.
//!
//! Place in the flow: a leaf used by [`crate::supervisor`], which hands the engines a closure
//! built from it (the engines know nothing of AWS). Today: [`iam`], the SigV4 presigned
//! tokens ElastiCache users with `AuthenticationMode Type=iam` send as their AUTH password.

pub mod iam;
