//! Compliance reports and the Statement of Applicability as PDFs, written
//! in-process with `lopdf`: A4
//! pages of text in the standard Helvetica and Courier fonts (no font
//! files), the tables in Courier so their columns line up. Text outside
//! printable ASCII is replaced, since the standard fonts' encoding covers
//! little more.

use isms_domain::compliance::{Issue, SignedReport, SoaEntry};
use isms_domain::time::Timestamp;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

const PAGE_W: i64 = 595;
const PAGE_H: i64 = 842;
const MARGIN: i64 = 50;
const LINE: i64 = 13;
/// Characters of Courier 9 pt that fit between the margins.
const MONO_COLS: usize = 95;

enum Line {
    Title(String),
    Heading(String),
    Text(String),
    Mono(String),
    Gap,
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn clip(s: &str, n: usize) -> String {
    let s = ascii(s);
    if s.chars().count() <= n {
        s
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(3)).collect();
        out.push_str("...");
        out
    }
}

fn issues(out: &mut Vec<Line>, title: &str, list: &[Issue]) {
    out.push(Line::Heading(format!("{title} ({})", list.len())));
    for i in list {
        out.push(Line::Mono(clip(
            &format!(
                "{:<22} {:<8} {}",
                i.check.as_str(),
                i.severity.as_str(),
                i.message
            ),
            MONO_COLS,
        )));
    }
    out.push(Line::Gap);
}

fn lines(signed: &SignedReport, tenant_name: &str) -> Vec<Line> {
    let r = &signed.report;
    let mut out = vec![
        Line::Title("ISO 27001 compliance report".into()),
        Line::Text(format!("Tenant: {}", ascii(tenant_name))),
        Line::Text(format!(
            "Generated: {}",
            r.generated_at.format("%Y-%m-%d %H:%M UTC")
        )),
        Line::Text(format!(
            "Period: {} to {}",
            r.period_start.format("%Y-%m-%d"),
            r.period_end.format("%Y-%m-%d")
        )),
        Line::Text(format!("Overall status: {}", r.overall_status.as_str())),
        Line::Text(format!("Score: {}", r.score)),
        Line::Text(format!("Next review: {}", r.next_review_date)),
        Line::Gap,
        Line::Heading("Checks".into()),
        Line::Mono(format!(
            "{:<22} {:<8} {:<8} {}",
            "check", "severity", "status", "message"
        )),
    ];
    for c in &r.results {
        out.push(Line::Mono(clip(
            &format!(
                "{:<22} {:<8} {:<8} {}",
                c.check.as_str(),
                c.severity.as_str(),
                c.status.as_str(),
                c.message
            ),
            MONO_COLS,
        )));
    }
    out.push(Line::Gap);
    issues(&mut out, "Critical issues", &r.critical_issues);
    issues(&mut out, "Warnings", &r.warnings);
    out.push(Line::Heading("Recommendations".into()));
    for rec in &r.recommendations {
        out.push(Line::Mono(clip(
            &format!("{:<8} {}", rec.severity.as_str(), rec.text),
            MONO_COLS,
        )));
    }
    out.push(Line::Gap);
    let s = &r.audit_summary;
    out.push(Line::Heading("Audit log".into()));
    out.push(Line::Mono(format!(
        "events {}  alerts {}  integrity {}  checkpoint size {}",
        s.events,
        s.alerts,
        if s.integrity_ok { "verified" } else { "FAILED" },
        s.checkpoint.tree_size
    )));
    out.push(Line::Mono(clip(
        &format!("checkpoint root {}", s.checkpoint.root_hash),
        MONO_COLS,
    )));
    out.push(Line::Gap);
    let k = &r.risk_summary.counts;
    out.push(Line::Heading("Risks".into()));
    out.push(Line::Mono(format!(
        "low {}  medium {}  high {}  critical {}",
        k.low, k.medium, k.high, k.critical
    )));
    out.push(Line::Gap);
    out.push(Line::Heading("Signature".into()));
    out.push(Line::Mono(clip(
        &format!("key {}", signed.key_id),
        MONO_COLS,
    )));
    out.push(Line::Mono(clip(
        &format!("Ed25519 {}", signed.signature),
        MONO_COLS,
    )));
    out
}

fn text_op(font: &str, size: i64, x: i64, y: i64, text: &str) -> Vec<Operation> {
    vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec![font.into(), size.into()]),
        Operation::new("Td", vec![x.into(), y.into()]),
        Operation::new("Tj", vec![Object::string_literal(text)]),
        Operation::new("ET", vec![]),
    ]
}

/// The report as PDF bytes.
pub fn report_pdf(signed: &SignedReport, tenant_name: &str) -> Result<Vec<u8>, String> {
    render(lines(signed, tenant_name))
}

fn soa_lines(entries: &[SoaEntry], tenant_name: &str, at: Timestamp) -> Vec<Line> {
    let applicable = entries.iter().filter(|e| e.applicable).count();
    let implemented = entries
        .iter()
        .filter(|e| e.applicable && e.status.as_str() == "implemented")
        .count();
    let mut out = vec![
        Line::Title("Statement of Applicability".into()),
        Line::Text(format!("Tenant: {}", ascii(tenant_name))),
        Line::Text(format!("Generated: {}", at.format("%Y-%m-%d %H:%M UTC"))),
        Line::Text(format!(
            "ISO/IEC 27001:2022 Annex A: {} controls, {applicable} applicable, {implemented} implemented",
            entries.len()
        )),
        Line::Gap,
        Line::Mono(format!(
            "{:<6} {:<44} {:<4} {:<12} {}",
            "id", "title", "appl", "status", "evidence"
        )),
    ];
    for e in entries {
        out.push(Line::Mono(clip(
            &format!(
                "{:<6} {:<44} {:<4} {:<12} {}",
                e.control_id,
                clip(&e.title, 44),
                if e.applicable { "yes" } else { "no" },
                e.status.as_str(),
                e.evidence.len()
            ),
            MONO_COLS,
        )));
        if let Some(j) = &e.justification {
            out.push(Line::Mono(clip(
                &format!("       justification: {j}"),
                MONO_COLS,
            )));
        }
    }
    out
}

/// The SoA of `entries` (all 93 controls) as a PDF.
pub fn soa_pdf(entries: &[SoaEntry], tenant_name: &str, at: Timestamp) -> Result<Vec<u8>, String> {
    render(soa_lines(entries, tenant_name, at))
}

fn render(lines: Vec<Line>) -> Result<Vec<u8>, String> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = |doc: &mut Document, base: &str| {
        doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => base,
            "Encoding" => "WinAnsiEncoding",
        })
    };
    let (sans, bold, mono) = (
        font(&mut doc, "Helvetica"),
        font(&mut doc, "Helvetica-Bold"),
        font(&mut doc, "Courier"),
    );
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => sans, "F2" => bold, "F3" => mono },
    });
    let mut pages: Vec<Vec<Operation>> = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    for line in lines {
        let height = match line {
            Line::Title(_) => 2 * LINE,
            Line::Heading(_) => LINE + 4,
            Line::Gap => LINE / 2,
            _ => LINE,
        };
        if y - height < MARGIN {
            pages.push(Vec::new());
            y = PAGE_H - MARGIN;
        }
        y -= height;
        let ops = match &line {
            Line::Title(t) => text_op("F2", 18, MARGIN, y, t),
            Line::Heading(t) => text_op("F2", 12, MARGIN, y, t),
            Line::Text(t) => text_op("F1", 10, MARGIN, y, t),
            Line::Mono(t) => text_op("F3", 9, MARGIN, y, t),
            Line::Gap => Vec::new(),
        };
        if let Some(page) = pages.last_mut() {
            page.extend(ops);
        }
    }
    let mut kids = Vec::with_capacity(pages.len());
    for operations in pages {
        let content = Content { operations }
            .encode()
            .map_err(|e| format!("encoding a page: {e}"))?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(Object::from(page_id));
    }
    let count = i64::try_from(kids.len()).map_err(|_| "too many pages".to_owned())?;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), PAGE_W.into(), PAGE_H.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| format!("writing the PDF: {e}"))?;
    Ok(out)
}
