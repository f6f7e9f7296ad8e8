use askama::Template;

use super::domain::{Problems, Range, Typed};

/// One measurement as the table shows it: the text, and a mark when out of range.
pub(crate) struct Cell {
    pub text: String,
    /// "high" or "low" (a CSS modifier and the words read aloud), or empty.
    pub mark: &'static str,
}

impl Cell {
    pub fn plain(text: String) -> Self {
        Self { text, mark: "" }
    }

    pub fn ranged(text: String, range: Option<Range>) -> Self {
        let mark = match range {
            Some(Range::High) => "high",
            Some(Range::Low) => "low",
            _ => "",
        };
        Self { text, mark }
    }
}

pub(crate) struct ReadingRow {
    pub id: String,
    pub measured: String,
    pub blood_pressure: Cell,
    pub pulse: Cell,
    pub respiratory_rate: Cell,
    pub temperature: Cell,
    pub spo2: Cell,
    pub weight: Cell,
    pub height: Cell,
    pub bmi: Cell,
    pub recorded_by: String,
}

impl ReadingRow {
    /// The measurements in the table's column order.
    pub fn cells(&self) -> [&Cell; 8] {
        [
            &self.blood_pressure,
            &self.pulse,
            &self.respiratory_rate,
            &self.temperature,
            &self.spo2,
            &self.weight,
            &self.height,
            &self.bmi,
        ]
    }
}

/// A line on a trend chart: its CSS class, its SVG points, and each point's dot.
pub(crate) struct Series {
    pub class: &'static str,
    pub label: &'static str,
    pub points: String,
    pub dots: Vec<(i32, i32, String)>,
}

/// A small chart drawn on the server: 360 x 160 units, the series over time (oldest on
/// the left), ticks on the left, an optional shaded reference band.
pub(crate) struct Trend {
    pub title: &'static str,
    pub summary: String,
    pub series: Vec<Series>,
    pub ticks: Vec<(i32, String)>,
    /// (top, height) of the reference band.
    pub band: Option<(i32, i32)>,
    pub first: String,
    pub last: String,
}

#[derive(Template)]
#[template(path = "vitals/section.html")]
pub(crate) struct VitalsSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub readings: Vec<ReadingRow>,
    pub trends: Vec<Trend>,
    pub marks_ranges: bool,
    pub can_record: bool,
    pub now_local: String,
    pub form: Typed,
    pub problems: Problems,
}
