//! `talaria models`: the models a provider offers, fetched fresh.

use serde_json::json;
use talaria_plugin_api::provider::{ModelList, ModelSource, ModelsRequest};

use super::open_provider;
use crate::app::App;
use crate::error::Result;
use crate::output::{print_json, print_table};

pub fn run(app: &App, provider: Option<&str>, json: bool) -> Result<()> {
    let config = app.config()?;
    let provider = open_provider(app, provider)?;
    let list = provider.models(&ModelsRequest { refresh: true })?;
    if let Some(note) = &list.note {
        eprintln!("note: {note}");
    }
    if json {
        let mut out = json!({
            "provider": provider.id(),
            "source": list.source,
            "default_model": list.default_model,
            "models": list.models,
        });
        if let Some(note) = &list.note {
            out["note"] = json!(note);
        }
        return print_json(&out);
    }
    // The profile's `model.default` only applies to the profile's own provider.
    let configured =
        (config.model.provider == provider.id()).then_some(config.model.default.as_str());
    print_table(&rows(&list, configured));
    if let Some(model) = configured.filter(|m| !list.models.iter().any(|info| info.slug == *m)) {
        let source = match list.source {
            ModelSource::Live => "the live list",
            ModelSource::Cache => "the cached list",
            ModelSource::Builtin => "the built-in list",
        };
        eprintln!("note: the profile's model.default ({model}) is not in {source}");
    }
    Ok(())
}

/// One row per model: slug, marks (the provider's default, the profile's choice),
/// display name, description.
fn rows(list: &ModelList, configured: Option<&str>) -> Vec<Vec<String>> {
    list.models
        .iter()
        .map(|m| {
            let mut marks = Vec::new();
            if m.slug == list.default_model {
                marks.push("default");
            }
            if Some(m.slug.as_str()) == configured {
                marks.push("configured");
            }
            vec![
                m.slug.clone(),
                marks.join(", "),
                m.display_name.clone().unwrap_or_default(),
                m.description.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use talaria_plugin_api::provider::ModelInfo;

    #[test]
    fn rows_mark_the_providers_default_and_the_profiles_choice() {
        let model = |slug: &str| ModelInfo {
            slug: slug.into(),
            display_name: Some(slug.to_uppercase()),
            ..Default::default()
        };
        let list = ModelList {
            models: vec![model("a"), model("b")],
            default_model: "a".into(),
            ..Default::default()
        };
        let table = rows(&list, Some("b"));
        assert_eq!(table[0], ["a", "default", "A", ""]);
        assert_eq!(table[1], ["b", "configured", "B", ""]);
        assert_eq!(rows(&list, Some("a"))[0][1], "default, configured");
    }
}
