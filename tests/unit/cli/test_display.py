"""The live display: a bar per stage while it advances, gone once complete; a line per step."""

import io

from rich.console import Console

from upscway import progress
from upscway.cli.display import LiveDisplay


def test_bars_come_and_go_with_their_stage_and_each_step_leaves_one_line():
    out = io.StringIO()
    with LiveDisplay(Console(file=out, width=100)) as display:
        progress.listen(display)
        try:
            progress.report("scrape", 0, 4)
            progress.report("scrape", 2, 4)
            assert list(display.stages) == ["scrape"]
            progress.report("scrape", 4, 4)
            assert display.stages == {}  # a finished bar is not redrawn under the next stage
            progress.report("train minilm-l1", 3, 90)
            progress.finished("distill", "completed", "in 3 s: trained one student")
            assert display.stages == {} and display.bars.tasks == []
            progress.finished("evaluate", "skipped", "no new student to evaluate: distill failed")
        finally:
            progress.forget(display)
    progress.report("scrape", 1, 1)  # nobody listens any more: nothing drawn, nothing raised
    lines = out.getvalue().splitlines()
    assert "✓ distill   completed in 3 s: trained one student" in lines
    assert "– evaluate  skipped no new student to evaluate: distill failed" in lines
