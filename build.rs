//! Compiles `proto/` with protox (no system `protoc`), generates the tonic
//! client and server code, and writes the encoded descriptor set that the
//! reflection service serves.

use std::path::PathBuf;

use prost::Message;

/// Proto enums used as CLI flag values, with their value prefix.
const CLI_ENUMS: [(&str, &str); 6] = [
    ("OrderKind", "ORDER_KIND"),
    ("ContractStatus", "CONTRACT_STATUS"),
    ("Product", "PRODUCT"),
    ("InquiryCategory", "INQUIRY_CATEGORY"),
    ("InquiryStatus", "INQUIRY_STATUS"),
    ("ReissueStatus", "REISSUE_STATUS"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/neo/support/v1/support.proto",
        "proto/neo/support/v1/license.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(protos, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("neo_support_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    let mut config = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true);
    // The enums the CLI takes as flag values: clap reads them straight from
    // the generated types (`--kind first-year`), so the CLI needs no mirror
    // enums. The UNSPECIFIED value is not offered.
    for (name, prefix) in CLI_ENUMS {
        config = config
            .enum_attribute(
                format!(".neo.support.v1.{name}"),
                "#[derive(clap::ValueEnum)]",
            )
            .field_attribute(
                format!(".neo.support.v1.{name}.{prefix}_UNSPECIFIED"),
                "#[value(skip)]",
            );
    }
    config.compile_fds(descriptors)?;
    Ok(())
}
