"""The facility registry (SPEC.md 1.4): which facilities exist, their names and technical
levels, and the officers each registered for the gateway's card check (DOMAIN.md 4, 5).

    rows.py      a row checked alone, then against the rows before it (pure)
    names.py     the comparison key of an officer's name
    csvfile.py   a registry CSV opened as the extracts are (gzip, BOM, header checks)
    storage.py   DATA/facilities/: versions, CURRENT, atomic publish
    registry.py  `Registry`: what the service reads (`Registry.load(data_dir)`)
    importer.py  `lookup facilities import`: all or nothing
    watch.py     `RegistryWatcher`: a serving worker picks up a new import without a restart
"""

from lookup.facilities.registry import Registry

__all__ = ("Registry",)
