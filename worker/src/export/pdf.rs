//! A paginated table on A4 landscape with the built-in Helvetica: a title on every page, a
//! header row, and "page i of n" at the bottom.

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

use super::Table;

const PAGE_W: f32 = 297.0;
const PAGE_H: f32 = 210.0;
const MARGIN: f32 = 12.0;
const BODY_PT: f32 = 8.0;
const ROW_MM: f32 = 5.0;
/// Average Helvetica glyph width relative to the font size, for truncating cells.
const GLYPH_EM: f32 = 0.5;

/// The built-in fonts speak WinAnsi: replace what they cannot show.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c as u32) < 0x20 {
                ' '
            } else if (c as u32) <= 0xff {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn fit(s: &str, width_mm: f32) -> String {
    let max_chars = ((width_mm / 0.3528) / (BODY_PT * GLYPH_EM))
        .floor()
        .max(1.0) as usize;
    let s = printable(s);
    if s.chars().count() <= max_chars {
        s
    } else {
        let mut cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('~');
        cut
    }
}

fn text(ops: &mut Vec<Op>, x: f32, y: f32, font: BuiltinFont, size: f32, content: String) {
    ops.push(Op::StartTextSection);
    ops.push(Op::SetTextCursor {
        pos: Point::new(Mm(x), Mm(y)),
    });
    ops.push(Op::SetFont {
        font: PdfFontHandle::Builtin(font),
        size: Pt(size),
    });
    ops.push(Op::ShowText {
        items: vec![TextItem::Text(content)],
    });
    ops.push(Op::EndTextSection);
}

fn rule(ops: &mut Vec<Op>, y: f32) {
    ops.push(Op::SetOutlineColor {
        col: Color::Rgb(Rgb {
            r: 0.6,
            g: 0.6,
            b: 0.6,
            icc_profile: None,
        }),
    });
    ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
    ops.push(Op::DrawLine {
        line: Line {
            points: vec![
                LinePoint {
                    p: Point::new(Mm(MARGIN), Mm(y)),
                    bezier: false,
                },
                LinePoint {
                    p: Point::new(Mm(PAGE_W - MARGIN), Mm(y)),
                    bezier: false,
                },
            ],
            is_closed: false,
        },
    });
}

/// Column widths proportional to their longest cell (bounded), filling the usable width.
fn column_widths(table: &Table) -> Vec<f32> {
    let usable = PAGE_W - 2.0 * MARGIN;
    let weights: Vec<f32> = (0..table.columns.len())
        .map(|i| {
            let longest = table
                .rows
                .iter()
                .take(500)
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain(std::iter::once(table.columns[i].chars().count()))
                .max()
                .unwrap_or(1);
            (longest as f32).clamp(4.0, 60.0)
        })
        .collect();
    let sum: f32 = weights.iter().sum::<f32>().max(1.0);
    weights.iter().map(|w| usable * w / sum).collect()
}

const TOP: f32 = PAGE_H - MARGIN;
const FIRST_ROW_Y: f32 = TOP - 22.0;

fn rows_per_page() -> usize {
    (((FIRST_ROW_Y - MARGIN - 10.0) / ROW_MM).floor() as usize).max(1)
}

/// Pages a table of `rows` rows takes (an empty table still gets one).
pub fn page_count(rows: usize) -> usize {
    rows.div_ceil(rows_per_page()).max(1)
}

pub fn render(table: &Table) -> Vec<u8> {
    let widths = column_widths(table);
    let (top, first_row_y, rows_per_page) = (TOP, FIRST_ROW_Y, rows_per_page());
    let chunks: Vec<&[Vec<String>]> = if table.rows.is_empty() {
        vec![&[]]
    } else {
        table.rows.chunks(rows_per_page).collect()
    };
    let total = chunks.len();
    let mut pages = Vec::with_capacity(total);
    for (index, rows) in chunks.into_iter().enumerate() {
        let mut ops = Vec::new();
        text(
            &mut ops,
            MARGIN,
            top - 6.0,
            BuiltinFont::HelveticaBold,
            14.0,
            printable(&table.title),
        );
        text(
            &mut ops,
            MARGIN,
            top - 12.0,
            BuiltinFont::Helvetica,
            9.0,
            printable(&table.subtitle),
        );
        let header_y = top - 18.0;
        let mut x = MARGIN;
        for (col, width) in table.columns.iter().zip(&widths) {
            text(
                &mut ops,
                x,
                header_y,
                BuiltinFont::HelveticaBold,
                BODY_PT,
                fit(col, *width - 1.0),
            );
            x += width;
        }
        rule(&mut ops, header_y - 1.5);
        let mut y = first_row_y;
        for row in rows {
            let mut x = MARGIN;
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                text(
                    &mut ops,
                    x,
                    y,
                    BuiltinFont::Helvetica,
                    BODY_PT,
                    fit(cell, *width - 1.0),
                );
                x += width;
            }
            y -= ROW_MM;
        }
        if table.rows.is_empty() {
            text(
                &mut ops,
                MARGIN,
                first_row_y,
                BuiltinFont::HelveticaOblique,
                BODY_PT,
                "No rows.".into(),
            );
        }
        text(
            &mut ops,
            PAGE_W / 2.0 - 12.0,
            MARGIN - 4.0,
            BuiltinFont::Helvetica,
            8.0,
            format!("Page {} of {}", index + 1, total),
        );
        pages.push(PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops));
    }
    PdfDocument::new(&printable(&table.title))
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}
