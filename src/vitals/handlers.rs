use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::json;

use super::domain::{
    Problems, Typed, bmi, diastolic_range, pulse_range, read, respiratory_range, spo2_range, systolic_range,
    temperature_range,
};
use super::repo::{self, Reading};
use super::views::{Cell, ReadingRow, Series, Trend, VitalsSection};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::VitalsId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, VitalsSection>;

/// The chart's units; the template's `viewBox` and grid lines use the same numbers. The
/// shape is about that of a phone's column, so it scales evenly (round dots, upright text).
const CHART_WIDTH: f64 = 360.0;
const CHART_HEIGHT: f64 = 160.0;
const CHART_LEFT: f64 = 44.0;

/// Where `value` lies on a chart scaled from `low` to `high`.
fn y_of(value: f64, low: f64, high: f64) -> i32 {
    let share = ((value - low) / (high - low)).clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation)] // within the chart's 160 units
    let y = (CHART_HEIGHT - 10.0 - share * (CHART_HEIGHT - 20.0)).round() as i32;
    y
}

fn x_of(index: usize, count: usize) -> i32 {
    let span = CHART_WIDTH - CHART_LEFT - 12.0;
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // at most 30 readings
    let x = if count <= 1 {
        (CHART_LEFT + span / 2.0).round() as i32
    } else {
        (CHART_LEFT + span * index as f64 / (count - 1) as f64).round() as i32
    };
    x
}

/// One series over `values` (oldest first; gaps where not measured).
fn series(
    class: &'static str,
    label: &'static str,
    values: &[(usize, f64, String)],
    count: usize,
    scale: (f64, f64),
) -> Series {
    let dots: Vec<(i32, i32, String)> = values
        .iter()
        .map(|(i, v, text)| (x_of(*i, count), y_of(*v, scale.0, scale.1), text.clone()))
        .collect();
    let points = dots.iter().map(|(x, y, _)| format!("{x},{y}")).collect::<Vec<_>>().join(" ");
    Series { class, label, points, dots }
}

fn trends(oldest_first: &[&Reading], day: &dyn Fn(DateTime<Utc>) -> String) -> Vec<Trend> {
    let count = oldest_first.len();
    let (Some(first), Some(last)) = (oldest_first.first(), oldest_first.last()) else { return Vec::new() };
    let mut trends = Vec::new();
    let systolic: Vec<_> = oldest_first
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.systolic.map(|v| (i, f64::from(v), format!("{v} systolic"))))
        .collect();
    let diastolic: Vec<_> = oldest_first
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.diastolic.map(|v| (i, f64::from(v), format!("{v} diastolic"))))
        .collect();
    if !systolic.is_empty() {
        let scale = (40.0, 200.0);
        let latest = oldest_first.iter().rev().find_map(|r| r.systolic.zip(r.diastolic));
        trends.push(Trend {
            title: "Blood pressure (mmHg)",
            summary: match latest {
                Some((s, d)) => format!("Blood pressure over {} readings; latest {s}/{d}.", systolic.len()),
                None => String::new(),
            },
            series: vec![
                series("trend__line--systolic", "Systolic", &systolic, count, scale),
                series("trend__line--diastolic", "Diastolic", &diastolic, count, scale),
            ],
            ticks: [60.0, 100.0, 140.0, 180.0]
                .iter()
                .map(|v| (y_of(*v, scale.0, scale.1), format!("{v}")))
                .collect(),
            band: Some((
                y_of(139.0, scale.0, scale.1),
                y_of(60.0, scale.0, scale.1) - y_of(139.0, scale.0, scale.1),
            )),
            first: day(first.measured_at),
            last: day(last.measured_at),
        });
    }
    let weights: Vec<_> = oldest_first
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.weight_g.map(|g| (i, f64::from(g) / 1000.0, weight_text(g))))
        .collect();
    if !weights.is_empty() {
        let low = weights.iter().map(|w| w.1).fold(f64::INFINITY, f64::min);
        let high = weights.iter().map(|w| w.1).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((high - low) * 0.2).max(2.0);
        let scale = ((low - pad).max(0.0), high + pad);
        trends.push(Trend {
            title: "Weight (kg)",
            summary: format!(
                "Weight over {} readings; latest {}.",
                weights.len(),
                weights.last().map(|w| w.2.clone()).unwrap_or_default()
            ),
            series: vec![series("trend__line--weight", "Weight", &weights, count, scale)],
            ticks: [scale.0 + pad, scale.1 - pad]
                .iter()
                .map(|v| (y_of(*v, scale.0, scale.1), format!("{v:.0}")))
                .collect(),
            band: None,
            first: day(first.measured_at),
            last: day(last.measured_at),
        });
    }
    trends
}

fn weight_text(grams: i32) -> String {
    let kg = f64::from(grams) / 1000.0;
    format!("{kg:.1} kg ({:.0} lb)", kg / 0.453_592_37)
}

fn row(r: &Reading, adult: bool, height: Option<i16>, local: &dyn Fn(DateTime<Utc>) -> String) -> ReadingRow {
    let mark = |range| if adult { Some(range) } else { None };
    let blood_pressure = match (r.systolic, r.diastolic) {
        (Some(s), Some(d)) => {
            let worst = match (systolic_range(s), diastolic_range(d)) {
                (super::domain::Range::High, _) | (_, super::domain::Range::High) => {
                    super::domain::Range::High
                }
                (super::domain::Range::Low, _) | (_, super::domain::Range::Low) => super::domain::Range::Low,
                _ => super::domain::Range::Normal,
            };
            Cell::ranged(format!("{s}/{d}"), mark(worst))
        }
        _ => Cell::plain(String::new()),
    };
    let number = |v: Option<i16>, suffix: &str, range: fn(i16) -> super::domain::Range| match v {
        Some(v) => Cell::ranged(format!("{v}{suffix}"), mark(range(v))),
        None => Cell::plain(String::new()),
    };
    ReadingRow {
        id: r.id.to_string(),
        measured: local(r.measured_at),
        blood_pressure,
        pulse: number(r.pulse, "", pulse_range),
        respiratory_rate: number(r.respiratory_rate, "", respiratory_range),
        temperature: match r.temperature_dc {
            Some(dc) => {
                let c = f64::from(dc) / 10.0;
                Cell::ranged(
                    format!("{:.1} °F ({c:.1} °C)", c * 9.0 / 5.0 + 32.0),
                    mark(temperature_range(dc)),
                )
            }
            None => Cell::plain(String::new()),
        },
        spo2: number(r.spo2, "%", spo2_range),
        weight: Cell::plain(r.weight_g.map(weight_text).unwrap_or_default()),
        height: Cell::plain(
            r.height_mm
                .map(|mm| format!("{:.1} cm ({:.1} in)", f64::from(mm) / 10.0, f64::from(mm) / 25.4))
                .unwrap_or_default(),
        ),
        bmi: Cell::plain(match (r.weight_g, r.height_mm.or(height)) {
            (Some(g), Some(mm)) if adult => format!("{:.1}", bmi(g, mm)),
            _ => String::new(),
        }),
        recorded_by: r.recorded_by.clone().unwrap_or_default(),
    }
}

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<VitalsSection> {
    let mut db = tx.conn().await?;
    let readings = repo::latest(&mut db, chart.id()).await?;
    let height = repo::last_height(&mut db, chart.id()).await?;
    drop(db);
    let adult = chart.header.age >= 18;
    let tz = chart.timezone;
    let local = move |at: DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let day = move |at: DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d").to_string();
    let oldest_first: Vec<&Reading> = readings.iter().rev().collect();
    Ok(VitalsSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        trends: trends(&oldest_first, &day),
        readings: readings.iter().map(|r| row(r, adult, height, &local)).collect(),
        marks_ranges: adult,
        can_record: chart.allows(tx, Permission::RecordClinicalSummary),
        now_local: tx.now().with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        form: Typed {
            temperature_unit: "F".into(),
            weight_unit: "lb".into(),
            height_unit: "in".into(),
            ..Typed::default()
        },
        problems: Problems::default(),
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.vitals";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: VitalsSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: VitalsSection) -> AppResult<Response> {
    chart.refused(tx, super::SECTION, PURPOSE, section).await
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page> {
    let chart = chart::open(&tx, &id, Permission::ViewClinicalSummary).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(page(&chart, section))
}

/// When the set was measured: the clinic-local time typed (`datetime-local`), or now; not
/// in the future (a few minutes of clock difference aside).
fn measured_at(text: &str, chart: &Chart, now: DateTime<Utc>) -> Result<DateTime<Utc>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(now);
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .map_err(|_| "Enter the date and time the measurements were taken.")?;
    let at = local
        .and_local_timezone(chart.timezone)
        .earliest()
        .ok_or("That time does not exist on the clinic's clock (a daylight-saving change).")?
        .with_timezone(&Utc);
    if at > now + TimeDelta::minutes(5) {
        return Err("This time is in the future.");
    }
    Ok(at)
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let typed: Typed = parse_form(&body)?;
    let when = measured_at(&typed.measured_at, &chart, tx.now());
    let vitals = read(&typed);
    let (Ok(at), Ok(vitals)) = (when, vitals.clone()) else {
        let mut section = render(&tx, &chart, None).await?;
        section.problems = vitals.err().map(|p| *p).unwrap_or_default();
        section.problems.measured_at = when.err();
        section.form = typed;
        return refused(&tx, &chart, section).await;
    };
    let by = tx.context().tenant.person();
    let clinic = tx.context().tenant.organization_id;
    let saved = repo::add(&mut *tx.conn().await?, clinic, chart.id(), at, &vitals, by).await?;
    tx.audit(&event(&chart, Action::Create).details(json!({ "vitals_id": saved.to_string() }))).await?;
    let section = render(&tx, &chart, Some("Vitals recorded.".to_owned())).await?;
    Ok(page(&chart, section).into_response())
}

pub async fn entered_in_error(
    tx: TenantTx,
    Path((id, vitals_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::RecordClinicalSummary).await?;
    let vitals: VitalsId = vitals_id.parse().map_err(|_| AppError::NotFound)?;
    let by = tx.context().tenant.person();
    if !repo::end(&mut *tx.conn().await?, chart.id(), vitals, tx.now(), by, "Entered in error").await? {
        return Err(tx.not_found("vitals", vitals.as_uuid()).await);
    }
    tx.audit(
        &event(&chart, Action::Update)
            .details(json!({ "vitals_id": vitals.to_string(), "entered_in_error": true })),
    )
    .await?;
    let section =
        render(&tx, &chart, Some("That set of vitals is marked as entered in error.".to_owned())).await?;
    Ok(page(&chart, section).into_response())
}
