"""The `retour` command line: parse arguments, call one library function, present its result.

Commands compute nothing themselves. Results go to stdout as a table, CSV or JSON (flat records with
stable snake_case keys); progress and warnings go to stderr. A `RetourError` becomes a one-line
`Error: ...` and exit code 1, in one place (`main`); `--debug` shows the traceback instead.

`common` holds the shared app, output helpers and options; the commands live by stage in `setup`,
`data`, `analysis`, `outputs` and `serve`, imported here so that each is registered before `app` is used.
"""

from retour.cli import analysis, check, data, outputs, serve, setup
from retour.cli.common import (
    PIPELINE_ORDER,
    FormatOption,
    OutputFormat,
    RoundOption,
    StudyDir,
    app,
    emit,
    info,
    main,
    records_of,
    root_command,
    warn,
)

__all__ = ["PIPELINE_ORDER", "FormatOption", "OutputFormat", "RoundOption", "StudyDir", "analysis", "app",
           "check", "data", "emit", "info", "main", "outputs", "records_of", "root_command", "serve", "setup",
           "warn"]
