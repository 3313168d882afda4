"""Every component id of the page, in one place."""

from __future__ import annotations

MAP_GRAPH = "map-graph"
LAYER_TOGGLES = "layer-toggles"
WINDOW_PRESET = "window-preset"
CUSTOM_RANGE = "custom-range"
HEX_RES = "hex-res"
KIND_FILTER = "kind-filter"
SUMMARY = "map-summary"
WINDOW_TEXT = "window-text"
DATA_THROUGH = "data-through"
MARKING_BANNER = "marking-banner"
MARKING_FOOTER = "marking-footer"
NOTES = "map-notes"
FILTER_STORE = "filter-store"
USER_MENU = "user-menu"
SIGN_OUT = "sign-out"


def summary_count(layer: str) -> str:
    """Id of the summary count of one layer, e.g. ``summary-count-suspicious``."""
    return f"summary-count-{layer}"


# Follow-up queue (ui/flags_queue.py, callbacks/flags.py).
FLAGS_GRID = "flags-grid"
FLAGS_VERSION = "flags-version"
FLAGS_SHOW_ALL = "flags-show-all"
FLAG_ACTION = "flag-action"
FLAG_DISPOSITION = "flag-disposition"
FLAG_ASSIGNEE = "flag-assignee"
FLAG_NOTE = "flag-note"
FLAG_SNOOZE_HOURS = "flag-snooze-hours"
FLAG_APPLY = "flag-apply"
FLAG_MESSAGE = "flag-message"
FLAG_DETAIL = "flag-detail"

# Upload panel (issue #3): import a partner file, see the summary, download the quarantine.
UPLOAD_FILE = "upload-file"
UPLOAD_FILENAME = "upload-filename"
UPLOAD_KIND = "upload-kind"
UPLOAD_SOURCE = "upload-source"
UPLOAD_BUTTON = "upload-button"
UPLOAD_SUMMARY = "upload-summary"
UPLOAD_BATCH = "upload-batch"
UPLOAD_QUARANTINE_BUTTON = "upload-quarantine-button"
UPLOAD_DOWNLOAD = "upload-download"

# Map panel: hexagon engine controls, timeline, playback and the cell detail panel (issue #4).
HEX_RES_AUTO = "hex-res-auto"
HEX_COLOUR = "hex-colour"
WINDOW_STORE = "window-store"
GEOMETRY_STORE = "geometry-store"
MAP_SPEC = "map-spec"  # the figure without hexagon polygons (server -> browser)
HEX_CELLS = "hex-cells"  # the hexagon cells whose polygons the browser builds
MAP_VIEW = "map-view"  # the last pan/zoom of the map (its relayout data, autosize left out)
TIMELINE_GRAPH = "timeline-graph"
PLAY_BUTTON = "play-button"
PLAY_SPEED = "play-speed"
PLAY_INTERVAL = "play-interval"
CELL_PANEL = "cell-panel"
CELL_TITLE = "cell-title"
CELL_BREAKDOWN = "cell-breakdown"
CELL_SITES = "cell-sites"
CELL_GRID = "cell-grid"

# Filter panel, area chooser, area summary, export and briefing (issue #7).
FILTER_CATEGORIES = "filter-categories"
FILTER_AGENCIES = "filter-agencies"
FILTER_CAVEATS = "filter-caveats"
AREA_TYPE = "area-type"
AREA_CHOICE = "area-choice"
AREA_HINT = "area-hint"
AREA_SUMMARY = "area-summary"
EXPORT_PANEL = "export-panel"
EXPORT_LAYER = "export-layer"
EXPORT_FORMAT = "export-format"
# Export jobs (issue #7): the button starts one; the interval polls it only while it runs.
EXPORT_BUTTON = "export-button"
EXPORT_JOB = "export-job"
EXPORT_INTERVAL = "export-interval"
EXPORT_PROGRESS = "export-progress"
EXPORT_STATUS = "export-status"
EXPORT_STATUS_TEXT = "export-status-text"
EXPORT_FILE_LINK = "export-file-link"
BRIEFING_FORMAT = "briefing-format"
BRIEFING_LINK = "briefing-link"
# Live watch desk (issue #8): change signal, feed, flag alerts, pause, theme, view URL.
SHELL = "wf-shell"
URL = "url"
LIVE_INTERVAL = "live-interval"
LIVE_PAUSE = "live-pause"
DATA_VERSION = "data-version"
FLAG_TOKEN = "flag-token"  # the flags part of the data version: the flag views redraw on it
TIMELINE_TOKEN = "timeline-token"  # the data version, handed on at most every 30 s
FEED_LIST = "feed-list"
FEED_COUNT = "feed-count"
FEED_ACK = "feed-ack"
FEED_STATE = "feed-state"
ALERT_TOAST = "alert-toast"
ALERT_TEXT = "alert-text"
ALERT_ACK = "alert-ack"
ALERT_STORE = "alert-store"
ALERT_SOUND_SINK = "alert-sound-sink"
FLAG_BADGE = "flag-badge"
THEME = "theme"
WALL_MODE = "wall-mode"
SOUND = "sound"
VIEW_QUERY = "view-query"
VIEW_URL_SINK = "view-url-sink"
# Filters a view URL carries, held until the menus they go into have their options.
PENDING_FILTERS = "pending-filters"
PENDING_AREA = "pending-area"
