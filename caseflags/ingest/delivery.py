"""Finding the files of a delivery folder: one file per contract table, national returns
recognised by content (plain, gzip or zip; caseflags.ingest.returns.sources), and every other
file named with the reason it is not used."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from caseflags.contracts.schema import load_contract
from caseflags.ingest.common import ExtractRefused
from caseflags.ingest.extracts import EXTRACT_SUFFIXES
from caseflags.ingest.returns.sources import FoundReturns, find_returns, is_return_candidate

# The tables of the SSD v1.4.5 scripts (SystemC, Eclipse, Mosaic) that caseflags does not read: a
# full SSD export is expected to hold them, so they are named "not used", never refused.
SSD_TABLES = frozenset(
    """
ssd_api_data_staging ssd_care_leavers ssd_cla_care_plan ssd_cla_convictions ssd_cla_episodes
ssd_cla_health ssd_cla_immunisations ssd_cla_placement ssd_cla_previous_permanence ssd_cla_reviews
ssd_cla_substance_misuse ssd_cla_visits ssd_cohort ssd_contacts ssd_cp_plans ssd_cp_reviews ssd_cp_visits
ssd_department ssd_dim_date ssd_early_help_episodes ssd_ehcp_active_plans ssd_ehcp_assessment
ssd_ehcp_named_plan ssd_ehcp_requests ssd_family ssd_immigration_status ssd_legal_status ssd_missing
ssd_mother ssd_permanence ssd_pre_cla_care_plan ssd_pre_proceedings ssd_s251_finance ssd_sdq_scores
ssd_sen_need ssd_send ssd_version_log ssd_voice_of_child
""".split()
)
NOT_USED_SSD_TABLE = "not used: SSD table"


@dataclass
class DeliveryFiles:
    """The files of one delivery folder: one per table, national returns, and refusals."""

    files: dict[str, Path]
    returns: FoundReturns  # national returns found by content, and the XML / archives not used
    refused: list[ExtractRefused]
    unused: list[ExtractRefused] = field(default_factory=list)  # side files (manifest, notes): named only


def discover_delivery(extracts_dir: Path) -> DeliveryFiles:
    """Map each contract table to its file and find CIN census / SEN2 returns (by content);
    unknown or doubled files are refused by name."""
    contract = load_contract()
    found: dict[str, list[Path]] = {}
    candidates: list[Path] = []
    refused: list[ExtractRefused] = []
    unused: list[ExtractRefused] = []
    for path in sorted(p for p in extracts_dir.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.name.startswith("~$"):
            continue  # editor and Excel lock files
        suffix = path.suffix.lower()
        if suffix not in EXTRACT_SUFFIXES:
            if is_return_candidate(path):
                candidates.append(path)
            else:  # manifests, truth files, notes travel with deliveries: named, not refused
                unused.append(
                    ExtractRefused(
                        path.name,
                        "neither an extract (.csv, .parquet, .xlsx) nor a DfE return (.xml, .xml.gz, .zip): not used",
                    )
                )
            continue
        table = path.stem.lower()
        if table not in contract and table in SSD_TABLES:
            unused.append(ExtractRefused(path.name, NOT_USED_SSD_TABLE))
            continue
        if table not in contract:
            refused.append(ExtractRefused(path.name, "not a table of the extract contract"))
            continue
        found.setdefault(table, []).append(path)
    returns = find_returns(candidates)
    refused.extend(ExtractRefused(name, reason) for name, reason in returns.unused)
    files: dict[str, Path] = {}
    for table, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            refused.append(ExtractRefused(names, f"more than one file for table {table}"))
        else:
            files[table] = paths[0]
    return DeliveryFiles(files, returns, refused, unused)


def no_delivery_files() -> DeliveryFiles:
    """No delivery folder (every table comes from the database source)."""
    return DeliveryFiles({}, FoundReturns(), [], [])
