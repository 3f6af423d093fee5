import { median, percentile } from './stats.ts';

/** One reading of a quantity: seconds since the run began, and its value. */
export type Point = { t: number; v: number };

/** The least-squares slope of `points`, in units per hour (0 with fewer than two times). */
export function slopePerHour(points: Point[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const meanV = points.reduce((s, p) => s + p.v, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.t - meanT) * (p.v - meanV);
    variance += (p.t - meanT) ** 2;
  }
  return variance === 0 ? 0 : (covariance / variance) * 3600;
}

/**
 * How a quantity moved over the measured part of a run (the warm-up left out): its readings cut
 * into thirds (early, middle, last), with what a verdict on growth looks at.
 */
export type Growth = {
  /** Median of the first three readings (just after the warm-up), and of the last three. */
  afterWarmUp: number;
  atEnd: number;
  /** Least-squares slope over all the readings, and over the last third alone, per hour. */
  slopePerHour: number;
  lastSlopePerHour: number;
  early: Third;
  middle: Third;
  last: Third;
};

/** A third's middle time (seconds), median, extremes and spread (its interquartile range: the noise a step must rise above). */
export type Third = { at: number; median: number; min: number; max: number; spread: number };

export function growthOf(kept: Point[]): Growth {
  const cut = (i: number) => kept.slice(Math.floor((kept.length * i) / 3), Math.floor((kept.length * (i + 1)) / 3));
  return {
    afterWarmUp: median(kept.slice(0, 3).map((p) => p.v)),
    atEnd: median(kept.slice(-3).map((p) => p.v)),
    slopePerHour: slopePerHour(kept),
    lastSlopePerHour: slopePerHour(cut(2)),
    early: thirdOf(cut(0)),
    middle: thirdOf(cut(1)),
    last: thirdOf(cut(2)),
  };
}

function thirdOf(points: Point[]): Third {
  const values = points.map((p) => p.v);
  return {
    at: points.length === 0 ? NaN : (points[0] as Point).t / 2 + (points[points.length - 1] as Point).t / 2,
    median: median(values),
    min: values.length === 0 ? NaN : Math.min(...values),
    max: values.length === 0 ? NaN : Math.max(...values),
    spread: percentile(values, 75) - percentile(values, 25),
  };
}
