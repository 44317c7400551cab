package slurm

import (
	"strings"
	"testing"
)

func TestParseJobID(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"42\n", "42", ""},
		{"42;cluster-a\n", "42", ""},
		{"sbatch: warning: something\n17\n", "17", ""},
		{"", "", "holds no job id"},
		{"sbatch: error: invalid partition\n", "", "holds no job id"},
		{"0\n", "", "holds no job id"},
		{"-3\n", "", "holds no job id"},
	} {
		got, err := ParseJobID(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %q, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseQueue(t *testing.T) {
	ts, err := ParseQueue("12_[2-3] PENDING\n12_1 RUNNING\n12_0 COMPLETED\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Task{{"12_[2-3]", "PENDING"}, {"12_1", "RUNNING"}, {"12_0", "COMPLETED"}}
	if len(ts) != len(want) {
		t.Fatalf("%v", ts)
	}
	for i := range ts {
		if ts[i] != want[i] {
			t.Errorf("task %d: %v, want %v", i, ts[i], want[i])
		}
	}
	if !Active(ts) || !Active(ts[1:]) || Active(ts[2:]) || Active(nil) {
		t.Errorf("Active is wrong on %v", ts)
	}
	if Active([]Task{{"5_0", "CANCELLED"}, {"5_1", "FAILED"}, {"5_2", "TIMEOUT"}, {"5_3", "PREEMPTED"}}) {
		t.Error("final states are taken for active")
	}
	if !Active([]Task{{"5_0", "CANCELLED"}, {"5_1", "REQUEUED"}}) {
		t.Error("a requeued task is taken for finished")
	}
	for _, bad := range []string{"12_0", "12_0 RUNNING extra", "12_0 running"} {
		if _, err := ParseQueue(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming the line", bad, err)
		}
	}
}

// FuzzParseQueue: squeue's output is outside input; whatever it is, the
// parser returns tasks with an id and a state, or an error.
func FuzzParseQueue(f *testing.F) {
	for _, s := range []string{"12_[2-3] PENDING\n12_1 RUNNING\n", "", "x", "1 A B", "\n\n7 COMPLETED"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := ParseQueue(in)
		if err != nil {
			return
		}
		for _, task := range ts {
			if task.ID == "" || task.State == "" || strings.ContainsAny(task.ID+task.State, " \t\n") {
				t.Fatalf("%q gave %+v", in, task)
			}
		}
	})
}

// FuzzParseJobID: sbatch's answer is outside input; a job id found in it
// is a positive number.
func FuzzParseJobID(f *testing.F) {
	for _, s := range []string{"42\n", "42;c\n", "w\n17", "", ";", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := ParseJobID(in)
		if err != nil {
			return
		}
		if id == "" || strings.Trim(id, "0123456789") != "" || strings.TrimLeft(id, "0") == "" {
			t.Fatalf("%q gave job id %q", in, id)
		}
	})
}

func TestParseNamed(t *testing.T) {
	js, err := ParseNamed("12 RUNNING evomerge-ab12-3\n13 PENDING my job name\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{{"12", "RUNNING", "evomerge-ab12-3"}, {"13", "PENDING", "my job name"}}
	if len(js) != len(want) || js[0] != want[0] || js[1] != want[1] {
		t.Errorf("%+v, want %+v", js, want)
	}
	for _, bad := range []string{"12 RUNNING", "12 running x", "12\tRUNNING x"} {
		if _, err := ParseNamed(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming the line", bad, err)
		}
	}
}

// FuzzParseNamed: squeue's output is outside input; a job it returns has
// an id and a state without blanks, and a name.
func FuzzParseNamed(f *testing.F) {
	for _, s := range []string{"12 RUNNING evomerge-x-1\n", "", "x", "1 A", "\n\n7 COMPLETED a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		js, err := ParseNamed(in)
		if err != nil {
			return
		}
		for _, j := range js {
			if strings.Trim(j.ID, "0123456789_") != "" || j.ID == "" || j.State == "" || strings.ContainsAny(j.ID+j.State, " \t\n\r") || strings.TrimSpace(j.Name) == "" {
				t.Fatalf("%q gave %+v", in, j)
			}
		}
	})
}
