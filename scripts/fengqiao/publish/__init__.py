"""The publish stage: byte-stable files, the site engine, atomic output.

``atomic`` (write a file or swap a folder so a crash never leaves half of
it) and ``files`` (CSV, xlsx and zip bytes that depend only on their
content) sit at the ground floor: any stage may import them. ``engine`` is
the only module that names MkDocs, and ``stage`` runs it into a staging
folder beside the output and swaps the result into place.

Nothing is imported here, so importing ``fengqiao.publish.atomic`` from an
early stage (sources, outdir) never pulls in the engine or pandas.
"""
