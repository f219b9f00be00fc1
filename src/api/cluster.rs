//! The cluster as this node sees it: members and pipes.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use troupe_cluster::{NodeRecord, PipeListing};
use utoipa::ToSchema;

use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/cluster", web::get().to(cluster));
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub node_id: String,
    pub region: String,
    /// Whether this node's registration (etcd lease) is alive.
    pub registered: bool,
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<NodeRecord>,
    /// Pipes into this node (producers received) and out of it.
    #[schema(value_type = Object)]
    pub pipes: PipeListing,
}

/// Members of the cluster and this node's pipes.
#[utoipa::path(get, path = "/v1/cluster", tag = "system", responses((status = 200, body = ClusterView)))]
pub async fn cluster(state: State) -> HttpResponse {
    let cluster = &state.cluster;
    HttpResponse::Ok().json(ClusterView {
        node_id: cluster.node_id().to_string(),
        region: cluster.region().to_string(),
        registered: cluster.is_registered(),
        members: cluster.members(),
        pipes: cluster.pipes(),
    })
}
