//! The entities served as collections, each under its path (`accounts`, `custom-fields`):
//! the one list that the API's router, its OpenAPI description and exports by name read.

use guanxi_domain::Entity;
use guanxi_domain::custom::CustomFieldDef;
use guanxi_domain::entities::*;
use schemars::JsonSchema;

/// Something done once per entity served as a collection: routing it, describing it.
pub trait Collections {
    fn collection<T: Entity + JsonSchema>(&mut self, path: &'static str);
}

/// Call `c` for every collection, in the order the API lists them.
pub fn each_collection(c: &mut impl Collections) {
    c.collection::<Account>("accounts");
    c.collection::<Contact>("contacts");
    c.collection::<Interaction>("interactions");
    c.collection::<Lead>("leads");
    c.collection::<Opportunity>("opportunities");
    c.collection::<Product>("products");
    c.collection::<Order>("orders");
    c.collection::<Case>("cases");
    c.collection::<Campaign>("campaigns");
    c.collection::<Pipeline>("pipelines");
    c.collection::<Team>("teams");
    c.collection::<User>("users");
    c.collection::<CustomFieldDef>("custom-fields");
}
