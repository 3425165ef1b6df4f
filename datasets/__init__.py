"""Benchmark readers (DAVIS 2016/2017, YouTube-VOS 2018/2019, MOSE, UVO, generic folder), submission
writers and a synthetic-benchmark generator. Each reader yields `datasets.video.Video` objects."""
