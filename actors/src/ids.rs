//! Object ids name their home node, so any node of a cluster can tell where
//! an object lives without asking anyone: `<node id>~<random>`. Node ids
//! never contain `~` (the configuration refuses it), and `~` needs no
//! escaping in a URL path.

const SEPARATOR: char = '~';

pub fn new_object_id(node_id: &str) -> String {
    format!("{node_id}{SEPARATOR}{}", uuid::Uuid::new_v4().simple())
}

/// The node an id was made on; `None` for an id not made by Troupe.
pub fn home_node_of(id: &str) -> Option<&str> {
    id.split_once(SEPARATOR)
        .map(|(node, _)| node)
        .filter(|node| !node.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_its_node() {
        let id = new_object_id("eu-1.a");
        assert_eq!(home_node_of(&id), Some("eu-1.a"));
        assert_ne!(id, new_object_id("eu-1.a"));
    }

    #[test]
    fn foreign_ids_have_no_home() {
        assert_eq!(home_node_of("3f2a"), None);
        assert_eq!(home_node_of("~x"), None);
    }
}
