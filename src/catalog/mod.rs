//! Static AWS catalogue data: engine versions and their parameter-group families, default
//! parameters per family, node types (vCPUs, memory). Loaded from `api-models/catalog/`.
