//! Writes the IAM policies of the Terraform and the SAM deployment as JSON files into the
//! given directory, for parliament (`scripts/test.sh` runs both).

use std::path::PathBuf;

use skein_tests::deploy::{policies, sam, terraform};

fn main() -> Result<(), String> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .ok_or("usage: iam-policies <output directory>")?
        .into();
    let root = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("..");
    let tf = terraform::Terraform::read(&root.join("terraform"))?;
    let written = policies::write("terraform", &terraform::deployment(&tf)?, &dir)
        .map_err(|e| e.to_string())?;
    let source =
        std::fs::read_to_string(root.join("infra/template.yaml")).map_err(|e| e.to_string())?;
    let template = sam::Template::parse(&source)?;
    let written = written
        + policies::write("sam", &sam::deployment(&template)?, &dir).map_err(|e| e.to_string())?;
    println!("{written} policies in {}", dir.display());
    Ok(())
}
