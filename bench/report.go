package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the rows as an aligned text table, one line per
// strategy and FEC scheme.
func (r Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "strategy\tfec\tnet loss\tlate loss\trecovered\tresidual\tconcealed\toverhead\tdelay ms\tp95 ms\tm2e ms\tspurts\tBurstR\tR\tMOS\tvs oracle\t\n")
	for _, row := range r.Rows {
		ratio := "-"
		if row.DelayRatio != nil {
			ratio = fmt.Sprintf("%.2fx", *row.DelayRatio)
		}
		recovered := "-"
		if row.FECRecovered != nil {
			recovered = strconv.FormatUint(*row.FECRecovered, 10)
		}
		concealed := "-"
		if row.Concealed != nil {
			concealed = strconv.FormatUint(*row.Concealed, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.2f%%\t%s\t%.2f%%\t%s\t%.0f%%\t%s\t%s\t%s\t%d\t%.2f\t%s\t%s\t%s\t\n",
			row.Strategy, row.FEC, 100*row.NetworkLoss, 100*row.LateLoss, recovered, 100*row.ResidualLoss, concealed, 100*row.Overhead,
			optF(row.DelayMean, 1), optF(row.DelayP95, 1), optF(row.MouthToEar, 1), row.Talkspurts, row.BurstR, optF(row.R, 1), optF(row.MOS, 2), ratio)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: writing table: %w", err)
	}
	if note := r.ratingNote(); note != "" {
		if _, err := fmt.Fprintln(w, note); err != nil {
			return fmt.Errorf("bench: writing table: %w", err)
		}
	}
	return nil
}

// ratingNote warns when rows were rated as different codecs: pion's buffer
// conceals nothing, so its rows are rated without concealment while Spurt's
// receivers conceal. The rating is honest; the comparison is not like for
// like.
func (r Result) ratingNote() string {
	var names []string
	for _, row := range r.Rows {
		if !slices.Contains(names, row.RatedAs) {
			names = append(names, row.RatedAs)
		}
	}
	if len(names) < 2 {
		return ""
	}
	return fmt.Sprintf("note: rows are rated as %s: pion conceals nothing, so its R and MOS carry its holes as silence\n"+
		"while the others conceal them; run with --plc=false to compare like for like.", strings.Join(names, " and "))
}

// optF formats an optional figure with prec decimals, "-" when unknown.
func optF(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// csvHeader names WriteCSV's columns, the JSON keys of Row.
var csvHeader = []string{
	"strategy", "fec", "packets_sent", "packets_expected", "network_lost", "late_lost", "chunks_played",
	"talkspurts", "talkspurts_sent", "network_loss", "late_loss", "fec_recovered", "residual_lost", "concealed", "residual_loss",
	"fec_overhead", "playout_delay_ms_mean", "playout_delay_ms_p95",
	"mouth_to_ear_ms", "burst_r", "r_factor", "mos", "rated_as", "oracle_delay_ms_mean", "delay_ratio_to_oracle",
}

// WriteCSV writes the rows as CSV with a header line; the columns are Row's
// JSON keys, empty where the JSON has null.
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
	optU := func(v *uint64) string {
		if v == nil {
			return ""
		}
		return u(*v)
	}
	return []string{
		row.Strategy, row.FEC, u(row.Sent), u(row.Expected), u(row.NetworkLost), u(row.Late), u(row.Played),
		u(row.Talkspurts), u(row.SpurtsSent), f(row.NetworkLoss), f(row.LateLoss), optU(row.FECRecovered), optU(row.Residual),
		optU(row.Concealed), f(row.ResidualLoss), f(row.Overhead), opt(row.DelayMean), opt(row.DelayP95),
		opt(row.MouthToEar), f(row.BurstR), opt(row.R), opt(row.MOS), row.RatedAs, opt(row.OracleDelayMean), opt(row.DelayRatio),
	}
}

// maxTablePoints is the most settings the sweep table lists one by one;
// larger grids list only the trade-off curve.
const maxTablePoints = 100

// WriteTable writes the sweep's best setting and the late-loss/delay
// trade-off: every setting in grid order, those on the trade-off curve marked
// with *, or for a grid of over 100 settings the curve alone.
func (s SweepResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	b := s.Points[s.Best]
	fmt.Fprintf(tw, "best by MOS: K=%g alpha=%g beta=%g  MOS %.3f  R %.1f  late %.2f%%  delay %.1f ms\n",
		b.K, b.Alpha, b.Beta, orNaN(b.Row.MOS), orNaN(b.Row.R), 100*b.Row.LateLoss, orNaN(b.Row.DelayMean))
	fmt.Fprintf(tw, "  (\"best\" maximises the E-model's MOS, which weighs residual loss against mouth-to-ear delay; nothing else)\n")
	if s.Knee >= 0 {
		k := s.Points[s.Knee]
		fmt.Fprintf(tw, "knee of the trade-off: K=%g alpha=%g beta=%g  late %.2f%%  delay %.1f ms  MOS %.3f\n"+
			"  (before it a little more delay buys much less late loss; past it, little)\n",
			k.K, k.Alpha, k.Beta, 100*k.Row.LateLoss, orNaN(k.Row.DelayMean), orNaN(k.Row.MOS))
	}
	fmt.Fprintf(tw, "trade-off curve: %d of %d settings (no other has both less late loss and less delay)\n", len(s.Front), len(s.Points))
	if len(s.Front) > 1 && 4*len(s.Front) > 3*len(s.Points) {
		fmt.Fprintf(tw, "  (most settings only trade delay for late loss, none simply worse: choose by the delay the call can bear)\n")
	}
	if len(s.BestAtEdge) > 0 {
		fmt.Fprintf(tw, "warning: the best setting lies at the edge of the grid in %s, so a better one may lie beyond it: widen the sweep\n",
			strings.Join(s.BestAtEdge, " and "))
	}
	fmt.Fprintln(tw)
	list := s.Front
	if len(s.Points) <= maxTablePoints {
		fmt.Fprintf(tw, "late loss against delay (* on the trade-off curve):\n")
		list = make([]int, len(s.Points))
		for i := range list {
			list[i] = i
		}
	} else {
		fmt.Fprintf(tw, "the trade-off curve:\n")
	}
	fmt.Fprintf(tw, "K\talpha\tbeta\tlate loss\tdelay ms\tp95 ms\tR\tMOS\t\t\n")
	for _, i := range list {
		p := s.Points[i]
		mark := ""
		if slices.Contains(s.Front, i) {
			mark = "*"
		}
		if i == s.Knee {
			mark += " knee"
		}
		if i == s.Best {
			mark += " best"
		}
		fmt.Fprintf(tw, "%g\t%g\t%g\t%.2f%%\t%.1f\t%.1f\t%.1f\t%.3f\t%s\t\n",
			p.K, p.Alpha, p.Beta, 100*p.Row.LateLoss, orNaN(p.Row.DelayMean), orNaN(p.Row.DelayP95), orNaN(p.Row.R), orNaN(p.Row.MOS), mark)
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
