//! The smallest failing export, for tests about how an input is read rather than what it says.

pub const RID: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
pub const ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";

/// An S3-export rendering of a setSecret login failure after 15 s (database unreachable).
pub fn failing_export() -> String {
    format!(
        "2025-04-10T09:31:22.507Z START RequestId: {RID} Version: $LATEST\n\
         2025-04-10T09:31:22.851Z [ERROR]\t2025-04-10T09:31:22.851Z\t{RID}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\
         2025-04-10T09:31:37.852Z [ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\
         2025-04-10T09:31:37.870Z END RequestId: {RID}\n\
         2025-04-10T09:31:37.870Z REPORT RequestId: {RID}\tDuration: 15362.41 ms\tBilled Duration: 15363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t\n"
    )
}
