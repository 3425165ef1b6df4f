"""Benchmark readers (DAVIS 2016/2017, YouTube-VOS 2018/2019, MOSE, UVO, generic folder), the PNG and RLE
codecs and a synthetic-benchmark generator (submission writers, which read run folders, are in
`experiments.tools.submission`). Each reader yields `datasets.video.Video` objects."""
