//! Which methods a path of the API takes, from the OpenAPI document itself:
//! a known path asked with another method is a 405 naming the ones it
//! takes, not a 404.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::api::openapi::ApiDoc;

/// Each documented path template (split in segments) and its methods.
fn table() -> &'static [(Vec<String>, Vec<&'static str>)] {
    static TABLE: OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc = ApiDoc::openapi();
        doc.paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .trim_matches('/')
                    .split('/')
                    .map(str::to_string)
                    .collect();
                let mut methods = Vec::new();
                for (method, present) in [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("OPTIONS", item.options.is_some()),
                    ("HEAD", item.head.is_some()),
                ] {
                    if present {
                        methods.push(method);
                    }
                }
                (segments, methods)
            })
            .collect()
    })
}

/// The methods `path` takes, if it is a documented path.
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    table().iter().find_map(|(template, methods)| {
        let matches = template.len() == segments.len()
            && template
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
        matches.then(|| methods.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn documented_paths_know_their_methods() {
        assert_eq!(allowed_methods("/v1/routers"), Some(vec!["POST"]));
        let transport = allowed_methods("/v1/transports/abc").unwrap();
        assert!(transport.contains(&"GET") && transport.contains(&"DELETE"));
        assert_eq!(allowed_methods("/v1/nothing/here"), None);
    }
}
