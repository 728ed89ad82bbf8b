//! State machine names: one per workflow version, never shared by two.

use serde_json::Value;

use crate::digest::{hex_digest, value_digest};
use crate::ids::TenantId;

/// The state machine name prefix when a deployment names none; the deployment's IAM
/// grants are scoped to `{prefix}-*`.
pub const MACHINE_PREFIX: &str = "skein";

/// One state machine per version, named so that no two (tenant, workflow, version, ASL)
/// share one: `{prefix}-{tenant}_{workflow}-v{version}-{asl digest}`. Tenant ids cannot
/// contain `_` (nor can prefixes) and the version suffix is always last, so the readable
/// form is unambiguous; one that would pass Step Functions' 80 characters names the tenant
/// and workflow by a 96-bit digest instead (and has no `_`, so it never equals a readable
/// one). The ASL digest makes two registrations racing for one version number create two
/// machines rather than one machine with the other's definition: the store decides which
/// is kept.
pub fn machine_name(
    prefix: &str,
    tenant: &TenantId,
    workflow: &str,
    version: u32,
    asl: &Value,
) -> String {
    let asl_digest = &value_digest(asl)[..8];
    let readable = format!("{prefix}-{tenant}_{workflow}-v{version}-{asl_digest}");
    if readable.len() <= 80 {
        return readable;
    }
    let owner = &hex_digest(format!("{tenant}\n{workflow}").as_bytes())[..24];
    format!("{prefix}-{owner}-v{version}-{asl_digest}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn name(tenant: &str, workflow: &str, version: u32) -> String {
        machine_name(
            MACHINE_PREFIX,
            &TenantId::parse(tenant).unwrap(),
            workflow,
            version,
            &json!({}),
        )
    }

    #[test]
    fn tenants_whose_names_run_together_get_different_machines() {
        assert_ne!(name("acme", "b-c", 1), name("acme-b", "c", 1));
        assert_ne!(name("a", "b-v1", 2), name("a", "b", 1));
    }

    #[test]
    fn a_machine_name_is_readable_and_within_step_functions_limits() {
        let short = name("acme", "research-report", 3);
        assert!(
            short.starts_with("skein-acme_research-report-v3-"),
            "{short}"
        );
        let long = name(&"t".repeat(60), &"w".repeat(60), 12);
        assert!(
            long.len() <= 80
                && long.starts_with("skein-")
                && long.ends_with(&long[long.len() - 8..])
        );
        assert_ne!(long, name(&"t".repeat(60), &"w".repeat(59), 12));
        for n in [short, long] {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{n}"
            );
        }
    }

    #[test]
    fn the_longest_prefix_and_names_still_fit() {
        let prefix = format!("p{}", "x".repeat(30));
        let tenant = TenantId::parse(&"t".repeat(63)).unwrap();
        let name = machine_name(&prefix, &tenant, &"w".repeat(64), u32::MAX, &json!({}));
        assert!(
            name.len() <= 80 && name.starts_with(&format!("{prefix}-")),
            "{name}"
        );
    }

    #[test]
    fn a_different_definition_gets_a_different_machine() {
        let tenant = TenantId::parse("acme").unwrap();
        assert_ne!(
            machine_name(MACHINE_PREFIX, &tenant, "w", 1, &json!({"StartAt": "a"})),
            machine_name(MACHINE_PREFIX, &tenant, "w", 1, &json!({"StartAt": "b"}))
        );
    }
}
