package index

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// scalar is a query value normalised from the Go types a caller (or
// encoding/json) may use.
type scalar struct {
	kind leafKind // leafString, leafNumber or leafBool
	str  string   // the string form (for numbers: Go's shortest form)
	num  float64
	b    bool
}

func toScalar(v any) (scalar, error) {
	switch x := v.(type) {
	case string:
		return scalar{kind: leafString, str: x}, nil
	case bool:
		return scalar{kind: leafBool, b: x, str: strconv.FormatBool(x)}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return scalar{}, illegalArgument("number %s is out of range", x)
		}
		return numScalar(f), nil
	case float64:
		return numScalar(x), nil
	case float32:
		return numScalar(float64(x)), nil
	case int:
		return numScalar(float64(x)), nil
	case int8:
		return numScalar(float64(x)), nil
	case int16:
		return numScalar(float64(x)), nil
	case int32:
		return numScalar(float64(x)), nil
	case int64:
		return numScalar(float64(x)), nil
	case uint:
		return numScalar(float64(x)), nil
	case uint8:
		return numScalar(float64(x)), nil
	case uint16:
		return numScalar(float64(x)), nil
	case uint32:
		return numScalar(float64(x)), nil
	case uint64:
		return numScalar(float64(x)), nil
	case nil:
		return scalar{}, illegalArgument("value cannot be null")
	}
	return scalar{}, illegalArgument("unsupported value type %T", v)
}

func numScalar(f float64) scalar {
	return scalar{kind: leafNumber, num: f, str: strconv.FormatFloat(f, 'f', -1, 64)}
}

// number returns the scalar as a number: numbers, and strings that parse
// as finite numbers.
func (s scalar) number() (float64, bool) {
	switch s.kind {
	case leafNumber:
		if math.IsNaN(s.num) || math.IsInf(s.num, 0) {
			return 0, false
		}
		return s.num, true
	case leafString:
		t := strings.TrimSpace(s.str)
		if t == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// integer returns the scalar as an int64 when it is a whole number.
func (s scalar) integer() (int64, bool) {
	f, ok := s.number()
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// boolean returns the scalar as a bool: true/false and their strings.
func (s scalar) boolean() (bool, bool) {
	switch s.kind {
	case leafBool:
		return s.b, true
	case leafString:
		switch s.str {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// date returns the scalar as Unix milliseconds: a number is epoch
// milliseconds (Elasticsearch's epoch_millis), a string a date or date math
// (see parseDate). roundUp selects the end of a rounded unit.
func (s scalar) date(now time.Time, roundUp bool) (int64, bool) {
	if s.kind == leafNumber {
		if f, ok := s.number(); ok && f >= -(1<<62) && f <= 1<<62 {
			return int64(math.Floor(f)), true
		}
		return 0, false
	}
	if s.kind != leafString {
		return 0, false
	}
	return parseDate(s.str, now, roundUp)
}

// parseDate reads an absolute date or Elasticsearch date math. Absolute
// forms: RFC 3339 with or without fractional seconds, 2006-01-02T15:04:05
// and 2006-01-02T15:04 (UTC), 2006-01-02, and epoch milliseconds as
// digits. Date math: an anchor ("now", or an absolute date followed by
// "||") and then any of +N<unit>, -N<unit> and /<unit> (rounding), with
// units y M w d h H m s. Rounding goes to the start of the unit, or to its
// last millisecond when roundUp (as Elasticsearch does for gt and lte).
func parseDate(s string, now time.Time, roundUp bool) (int64, bool) {
	s = strings.TrimSpace(s)
	var t time.Time
	var ops string
	switch {
	case strings.HasPrefix(s, "now"):
		t, ops = now.UTC(), s[3:]
	default:
		anchor := s
		if i := strings.Index(s, "||"); i >= 0 {
			anchor, ops = s[:i], s[i+2:]
		}
		var ok bool
		if t, ok = parseAbsoluteDate(anchor, roundUp && ops == ""); !ok {
			return 0, false
		}
	}
	for len(ops) > 0 {
		op := ops[0]
		ops = ops[1:]
		switch op {
		case '+', '-':
			i := 0
			for i < len(ops) && ops[i] >= '0' && ops[i] <= '9' {
				i++
			}
			n := 1
			if i > 0 {
				v, err := strconv.Atoi(ops[:i])
				if err != nil {
					return 0, false
				}
				n = v
			}
			if i >= len(ops) {
				return 0, false
			}
			if op == '-' {
				n = -n
			}
			var ok bool
			if t, ok = addUnit(t, ops[i], n); !ok {
				return 0, false
			}
			ops = ops[i+1:]
		case '/':
			if len(ops) == 0 {
				return 0, false
			}
			var ok bool
			if t, ok = roundUnit(t, ops[0], roundUp); !ok {
				return 0, false
			}
			ops = ops[1:]
		default:
			return 0, false
		}
	}
	return timeMillis(t)
}

func parseAbsoluteDate(s string, roundUp bool) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if allDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(ms).UTC(), true
	}
	// Rounding up fills the fields the value leaves out with their
	// largest values, as Elasticsearch's date parser does for gt and lte.
	for _, f := range dateLayouts {
		t, err := time.Parse(f.layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		unit := f.unit
		if unit == 's' && strings.Contains(s[10:], ".") {
			unit = 0 // fractional seconds given: exact
		}
		if roundUp && unit != 0 {
			t, _ = roundUnit(t, unit, true)
		}
		return t, true
	}
	return time.Time{}, false
}

var dateLayouts = []struct {
	layout string
	unit   byte // the precision the layout ends at
}{
	{time.RFC3339Nano, 's'},
	{"2006-01-02T15:04:05.999999999", 's'},
	{"2006-01-02T15:04", 'm'},
	{"2006-01-02", 'd'},
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func addUnit(t time.Time, unit byte, n int) (time.Time, bool) {
	switch unit {
	case 'y':
		return t.AddDate(n, 0, 0), true
	case 'M':
		return t.AddDate(0, n, 0), true
	case 'w':
		return t.AddDate(0, 0, 7*n), true
	case 'd':
		return t.AddDate(0, 0, n), true
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour), true
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), true
	case 's':
		return t.Add(time.Duration(n) * time.Second), true
	}
	return t, false
}

func roundUnit(t time.Time, unit byte, up bool) (time.Time, bool) {
	y, mo, d := t.Date()
	var start time.Time
	var next time.Time
	switch unit {
	case 'y':
		start = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(1, 0, 0)
	case 'M':
		start = time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 1, 0)
	case 'w':
		// ISO weeks start on Monday.
		wd := (int(t.Weekday()) + 6) % 7
		start = time.Date(y, mo, d-wd, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 0, 7)
	case 'd':
		start = time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 0, 1)
	case 'h', 'H':
		start = t.Truncate(time.Hour)
		next = start.Add(time.Hour)
	case 'm':
		start = t.Truncate(time.Minute)
		next = start.Add(time.Minute)
	case 's':
		start = t.Truncate(time.Second)
		next = start.Add(time.Second)
	default:
		return t, false
	}
	if up {
		return next.Add(-time.Millisecond), true
	}
	return start, true
}

// minimumShouldMatch computes Elasticsearch's minimum_should_match for n
// optional clauses: "3", "-1", "75%", "-25%". Empty gives def.
func minimumShouldMatch(spec string, n, def int) (int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return def, nil
	}
	pct := strings.HasSuffix(spec, "%")
	num := strings.TrimSuffix(spec, "%")
	v, err := strconv.Atoi(num)
	if err != nil {
		return 0, parsingError("[minimum_should_match] cannot parse [%s]", spec)
	}
	var m int
	switch {
	case pct && v < 0:
		m = n - (n*-v)/100
	case pct:
		m = (n * v) / 100
	case v < 0:
		m = n + v
	default:
		m = v
	}
	return max(m, 0), nil
}
