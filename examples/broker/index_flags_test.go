package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestIndexFlags(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Index != defaultIndexConfig() {
		t.Fatalf("defaults %+v, want %+v", cfg.Index, defaultIndexConfig())
	}
	po := cfg.Index.pipelineOptions(true, slog.Default())
	if po.Workers != defaultIndexWorkers() || po.RefreshInterval != defaultIndexRefresh || po.MaxYield != defaultIndexMaxYield || !po.EnableByDefault {
		t.Fatalf("default pipeline options %+v", po)
	}
	if bo := cfg.Index.blugeOptions(slog.Default()); bo.AnalysisWorkers != defaultIndexWorkers() {
		t.Fatalf("default bluge options %+v", bo)
	}

	cfg, err = parseFlags([]string{"-index-workers", "3", "-index-analysis-workers", "4", "-index-refresh-interval", "0s", "-index-max-yield", "0s"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if want := (indexConfig{Workers: 3, AnalysisWorkers: 4}); cfg.Index != want {
		t.Fatalf("parsed %+v, want %+v", cfg.Index, want)
	}
	po = cfg.Index.pipelineOptions(false, slog.Default())
	// 0 on the command line is "none", which the pipeline spells negative
	// (its 0 is its default).
	if po.Workers != 3 || po.RefreshInterval >= 0 || po.MaxYield >= 0 || po.EnableByDefault {
		t.Fatalf("pipeline options %+v", po)
	}
	if err := po.Validate(); err != nil {
		t.Fatal(err)
	}
	if bo := cfg.Index.blugeOptions(slog.Default()); bo.AnalysisWorkers != 4 {
		t.Fatalf("bluge options %+v", bo)
	}

	cfg, err = parseFlags([]string{"-index-refresh-interval", "250ms", "-index-max-yield", "2s"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if po := cfg.Index.pipelineOptions(true, slog.Default()); po.RefreshInterval != 250*time.Millisecond || po.MaxYield != 2*time.Second {
		t.Fatalf("pipeline options %+v", po)
	}

	for _, args := range [][]string{
		{"-index-workers", "0"},
		{"-index-workers", "1025"},
		{"-index-analysis-workers", "0"},
		{"-index-analysis-workers", "-2"},
		{"-index-refresh-interval", "-1s"},
		{"-index-refresh-interval", "2m"},
		{"-index-max-yield", "-5ms"},
		{"-index-max-yield", "61s"},
		{"-index-workers", "many"},
	} {
		if _, err := parseFlags(args, &out); err == nil {
			t.Errorf("%v: accepted", args)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "-")) {
			t.Errorf("%v: error %q does not name the flag", args, err)
		}
	}
}
