//! Trace context across the control link: a request carries the W3C
//! `traceparent` of the caller's span, and the callee's span becomes its
//! child, so one operation spanning nodes is one trace. The binary owns the
//! tracing setup (OpenTelemetry), so it provides both ends as hooks.

/// How trace context crosses the control link: the binary owns the
/// tracing setup, so it provides both ends.
#[derive(Clone, Copy)]
pub struct TraceHooks {
    /// The W3C `traceparent` of the current span.
    pub current: fn() -> Option<String>,
    /// Makes a span the child of the span a `traceparent` names.
    pub adopt: fn(&tracing::Span, &str),
}

static TRACE_HOOKS: std::sync::OnceLock<TraceHooks> = std::sync::OnceLock::new();

pub fn set_trace_hooks(hooks: TraceHooks) {
    let _ = TRACE_HOOKS.set(hooks);
}

pub fn current_traceparent() -> Option<String> {
    TRACE_HOOKS.get().and_then(|hooks| (hooks.current)())
}

pub fn adopt_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if let (Some(hooks), Some(parent)) = (TRACE_HOOKS.get(), traceparent) {
        (hooks.adopt)(span, parent);
    }
}
