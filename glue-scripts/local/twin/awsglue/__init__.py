"""The local twin's stand-in for AWS Glue's ``awsglue`` library: only what our jobs use.

* :mod:`awsglue.utils`: ``getResolvedOptions``;
* :mod:`awsglue.context`: ``GlueContext`` (``spark_session``, ``create_dynamic_frame.from_options``
  for ``connection_type="mysql"``);
* :mod:`awsglue.dynamicframe`: ``DynamicFrame.toDF()``;
* :mod:`awsglue.job`: ``Job`` (``init``, ``commit``: job bookmarks).

``local/twin/run_job.py`` puts this package first on the job's ``sys.path``; the twin's
environment it needs is described in :mod:`awsglue._twin`.
"""
