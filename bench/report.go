package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteTable writes the rows as an aligned text table, one line per
// strategy and FEC scheme.
func (r Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "strategy\tfec\tnet loss\tlate loss\tdelay ms\tp95 ms\tm2e ms\tspurts\tBurstR\tR\tMOS\tvs oracle\t\n")
	for _, row := range r.Rows {
		ratio := "-"
		if row.DelayRatio != nil {
			ratio = fmt.Sprintf("%.2fx", *row.DelayRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.2f%%\t%.1f\t%.1f\t%.1f\t%d\t%.2f\t%.1f\t%.2f\t%s\t\n",
			row.Strategy, row.FEC, 100*row.NetworkLoss, 100*row.LateLoss, row.DelayMean, row.DelayP95,
			row.MouthToEar, row.Talkspurts, row.BurstR, row.R, row.MOS, ratio)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: writing table: %w", err)
	}
	return nil
}

// csvHeader names WriteCSV's columns, the JSON keys of Row.
var csvHeader = []string{
	"strategy", "fec", "packets_sent", "packets_expected", "network_lost", "late_lost", "chunks_played",
	"talkspurts", "network_loss", "late_loss", "playout_delay_ms_mean", "playout_delay_ms_p95",
	"mouth_to_ear_ms", "burst_r", "r_factor", "mos", "oracle_delay_ms_mean", "delay_ratio_to_oracle",
}

// WriteCSV writes the rows as CSV with a header line; the columns are Row's
// JSON keys (the FEC outcome columns are left out until there is FEC).
func (r Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("bench: writing CSV: %w", err)
	}
	for _, row := range r.Rows {
		if err := cw.Write(row.csvRecord()); err != nil {
			return fmt.Errorf("bench: writing CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("bench: writing CSV: %w", err)
	}
	return nil
}

func (row Row) csvRecord() []string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	return []string{
		row.Strategy, row.FEC, u(row.Sent), u(row.Expected), u(row.NetworkLost), u(row.Late), u(row.Played),
		u(row.Talkspurts), f(row.NetworkLoss), f(row.LateLoss), f(row.DelayMean), f(row.DelayP95),
		f(row.MouthToEar), f(row.BurstR), f(row.R), f(row.MOS), opt(row.OracleDelayMean), opt(row.DelayRatio),
	}
}

// WriteTable writes the sweep's best setting and its trade-off curve.
func (s SweepResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	b := s.Points[s.Best]
	fmt.Fprintf(tw, "best by MOS: K=%g alpha=%g beta=%g  MOS %.3f  R %.1f  late %.2f%%  delay %.1f ms\n\n",
		b.K, b.Alpha, b.Beta, b.Row.MOS, b.Row.R, 100*b.Row.LateLoss, b.Row.DelayMean)
	fmt.Fprintf(tw, "trade-off curve (no setting is better on both):\n")
	fmt.Fprintf(tw, "K\talpha\tbeta\tlate loss\tdelay ms\tp95 ms\tMOS\t\n")
	for _, i := range s.Front {
		p := s.Points[i]
		fmt.Fprintf(tw, "%g\t%g\t%g\t%.2f%%\t%.1f\t%.1f\t%.3f\t\n",
			p.K, p.Alpha, p.Beta, 100*p.Row.LateLoss, p.Row.DelayMean, p.Row.DelayP95, p.Row.MOS)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: writing table: %w", err)
	}
	return nil
}

// WriteCSV writes every point of the sweep as CSV: the setting, then the
// columns of Result.WriteCSV.
func (s SweepResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"k", "alpha", "beta"}, csvHeader...)); err != nil {
		return fmt.Errorf("bench: writing CSV: %w", err)
	}
	for _, p := range s.Points {
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		if err := cw.Write(append([]string{f(p.K), f(p.Alpha), f(p.Beta)}, p.Row.csvRecord()...)); err != nil {
			return fmt.Errorf("bench: writing CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("bench: writing CSV: %w", err)
	}
	return nil
}
