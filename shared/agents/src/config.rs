//! Settings the builtins need from the deployment, read once at start.

/// Where the `llm` builtin sends chat completions.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// An OpenAI-compatible API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub default_model: String,
}

#[derive(Debug, Clone, Default)]
pub struct BuiltinSettings {
    pub llm: Option<LlmSettings>,
    /// What `http` steps may reach (`SKEIN_HTTP_ALLOW`); the default allows only
    /// globally routable addresses.
    pub egress: crate::egress::EgressPolicy,
}
