//! The `States.*` error names and how `ErrorEquals` matches them.

pub const ALL: &str = "States.ALL";
pub const TASK_FAILED: &str = "States.TaskFailed";
pub const RUNTIME: &str = "States.Runtime";
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
pub const BRANCH_FAILED: &str = "States.BranchFailed";
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
pub const TIMEOUT: &str = "States.Timeout";
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
pub const PERMISSIONS: &str = "States.Permissions";
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// Every reserved name a definition may mention.
pub const RESERVED: [&str; 16] = [
    ALL,
    TASK_FAILED,
    RUNTIME,
    DATA_LIMIT_EXCEEDED,
    NO_CHOICE_MATCHED,
    INTRINSIC_FAILURE,
    RESULT_PATH_MATCH_FAILURE,
    PARAMETER_PATH_FAILURE,
    BRANCH_FAILED,
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    TIMEOUT,
    HEARTBEAT_TIMEOUT,
    PERMISSIONS,
    QUERY_EVALUATION_ERROR,
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
];

/// Whether a retrier or catcher listing `names` handles `error`.
///
/// As on Step Functions: `States.Runtime` is never retried or caught; `States.ALL` matches every
/// other error except `States.DataLimitExceeded`, which must be named; `States.TaskFailed`
/// is a wildcard too, except that it does not match `States.Timeout`.
pub fn handles(names: &[String], error: &str) -> bool {
    if error == RUNTIME {
        return false;
    }
    let wildcard_may_match = error != DATA_LIMIT_EXCEEDED;
    names.iter().any(|name| {
        name == error
            || (name == ALL && wildcard_may_match)
            || (name == TASK_FAILED && wildcard_may_match && error != TIMEOUT)
    })
}
