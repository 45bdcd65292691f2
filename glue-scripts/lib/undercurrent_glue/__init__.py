"""Undercurrent Glue library: pure PySpark transforms shared by the Glue jobs.

Nothing in this package imports ``awsglue``: every function takes and returns plain
Spark DataFrames, so it runs unchanged on AWS Glue 5.0 (Spark 3.5, Python 3.11) and on a
local ``pyspark`` in the tests. The directory holding this package (``glue-scripts/lib``)
is zipped and shipped to Glue with ``--extra-py-files``; data files such as the schema
declarations are read with :func:`pkgutil.get_data` so that they load from inside the zip.
"""
