//! The served OpenAPI document, corrected where poem-openapi 5 documents less than it does:
//! it serialises an absent `Option<T>` field as `null` but documents the field only as
//! optional, so clients and fuzzers that check responses against the document see `null`
//! where it promises a value. Every property a schema does not require is marked
//! `nullable` (OpenAPI 3.0), so the document says what the server sends and accepts (a `null`
//! in a request is read as absent).

use serde_json::{Value, json};

/// `spec` (JSON) with its optional properties nullable; unchanged if it does not parse.
pub fn with_nullable_optionals(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_string();
    };
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            mark(schema);
        }
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_string())
}

fn mark(schema: &mut Value) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if property.get("$ref").is_some() {
            // A `$ref`'s siblings are ignored in OpenAPI 3.0: wrap it.
            *property = json!({ "allOf": [property.take()], "nullable": true });
        } else if let Some(p) = property.as_object_mut() {
            p.insert("nullable".into(), Value::Bool(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable_and_required_ones_stay() {
        let spec = json!({
            "openapi": "3.0.0",
            "components": { "schemas": { "Job": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": { "type": "string" },
                    "etaAt": { "type": "string", "format": "date-time" },
                    "links": { "$ref": "#/components/schemas/Links" }
                }
            }}}
        })
        .to_string();
        let fixed: Value = serde_json::from_str(&with_nullable_optionals(&spec)).unwrap();
        let props = &fixed["components"]["schemas"]["Job"]["properties"];
        assert!(props["id"].get("nullable").is_none());
        assert_eq!(props["etaAt"]["nullable"], true);
        assert_eq!(props["links"]["nullable"], true);
        assert_eq!(
            props["links"]["allOf"][0]["$ref"],
            "#/components/schemas/Links"
        );
    }
}
