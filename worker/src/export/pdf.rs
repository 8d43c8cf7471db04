//! A paginated table on A4 landscape with the built-in Helvetica: a title on every page, a
//! header row, and "page i of n" at the bottom.

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, RawImage, RawImageData, RawImageFormat, Rgb, TextItem,
    XObjectTransform,
};

use super::Table;

const PAGE_W: f32 = 297.0;
const PAGE_H: f32 = 210.0;
const MARGIN: f32 = 12.0;
const BODY_PT: f32 = 8.0;
const ROW_MM: f32 = 5.0;
/// Rows with a thumbnail: the picture's column width and the row height.
const THUMB_COL_MM: f32 = 24.0;
const THUMB_ROW_MM: f32 = 22.0;
/// Thumbnails are embedded at this size (pixels, longer side): enough for 20 mm at 150 dpi.
const THUMB_PX: u32 = 120;
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
fn column_widths(table: &Table, usable: f32) -> Vec<f32> {
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

fn row_height(thumbnails: bool) -> f32 {
    if thumbnails { THUMB_ROW_MM } else { ROW_MM }
}

fn rows_per_page(thumbnails: bool) -> usize {
    (((FIRST_ROW_Y - MARGIN - 10.0) / row_height(thumbnails)).floor() as usize).max(1)
}

/// Pages a table of `rows` rows takes (an empty table still gets one).
pub fn page_count(rows: usize, thumbnails: bool) -> usize {
    rows.div_ceil(rows_per_page(thumbnails)).max(1)
}

fn raw_image(img: &image::RgbImage) -> RawImage {
    let img = image::imageops::thumbnail(
        img,
        THUMB_PX.min(img.width()),
        (THUMB_PX * img.height() / img.width().max(1)).clamp(1, THUMB_PX),
    );
    RawImage {
        width: img.width() as usize,
        height: img.height() as usize,
        data_format: RawImageFormat::RGB8,
        pixels: RawImageData::U8(img.into_raw()),
        tag: Vec::new(),
    }
}

pub fn render(table: &Table) -> Vec<u8> {
    let thumbs = table.has_thumbnails();
    let thumb_col = if thumbs { THUMB_COL_MM } else { 0.0 };
    let widths = column_widths(table, PAGE_W - 2.0 * MARGIN - thumb_col);
    let (top, first_row_y, rows_per_page) = (TOP, FIRST_ROW_Y, rows_per_page(thumbs));
    let row_h = row_height(thumbs);
    let mut doc = PdfDocument::new(&printable(&table.title));
    let chunks: Vec<(usize, &[Vec<String>])> = if table.rows.is_empty() {
        vec![(0, &[])]
    } else {
        table
            .rows
            .chunks(rows_per_page)
            .enumerate()
            .map(|(i, c)| (i * rows_per_page, c))
            .collect()
    };
    let total = chunks.len();
    let mut pages = Vec::with_capacity(total);
    for (index, (first, rows)) in chunks.into_iter().enumerate() {
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
        let mut x = MARGIN + thumb_col;
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
        for (n, row) in rows.iter().enumerate() {
            if let Some(Some(img)) = table.thumbnails.get(first + n) {
                let raw = raw_image(img);
                let (w, h) = (raw.width as f32, raw.height as f32);
                // Fit the picture in (column − 2 mm) × (row − 2 mm), top-aligned with the text.
                let box_mm = (THUMB_COL_MM - 2.0).min(row_h - 2.0);
                let scale_mm = box_mm / w.max(h);
                let id = doc.add_image(&raw);
                ops.push(Op::UseXobject {
                    id,
                    transform: XObjectTransform {
                        translate_x: Some(Mm(MARGIN).into_pt()),
                        translate_y: Some(Mm(y + 3.0 - h * scale_mm).into_pt()),
                        // At 72 dpi one pixel is one point; scale points to the wanted mm.
                        dpi: Some(72.0),
                        scale_x: Some(Mm(scale_mm).into_pt().0),
                        scale_y: Some(Mm(scale_mm).into_pt().0),
                        ..Default::default()
                    },
                });
            }
            let mut x = MARGIN + thumb_col;
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
            y -= row_h;
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
    doc.with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}
