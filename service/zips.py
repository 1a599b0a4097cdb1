"""Zip files from outside (Word templates, Excel lists), judged by their directory alone.

A 6 kB upload may unpack to gigabytes, so nothing is unpacked before the directory's
stated sizes, member count and compression methods are within bounds; zipfile then stops
reading a member at its stated size.
"""

import io
import zipfile

# Stored and deflated are what Word, Excel and LibreOffice write; the others (bzip2, lzma)
# unpack far more slowly for the same stated size.
METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


def unpack_problems(data: bytes, max_members: int, max_bytes: int) -> list[str]:
    """What is wrong with unpacking `data`, in Swedish; [] when it may be opened."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return ["Filen är inte en läsbar zip-fil."]
    if len(members) > max_members:
        return [f"Filen innehåller för många delar ({len(members)}, högst {max_members})."]
    if sum(m.file_size for m in members) > max_bytes:
        return [f"Filen blir för stor uppackad (högst {max_bytes // 1024**2} MB)."]
    if any(m.compress_type not in METHODS for m in members):
        return ["Filen är packad på ett sätt som inte stöds."]
    return []
