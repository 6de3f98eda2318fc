"""The table of installable data sets (:data:`REGISTRY`): sources, checksums, sizes, licences
and citations of every :class:`~crowdlearn.datasets.record.DatasetRecord`; see
:mod:`crowdlearn.datasets.registry` for the installed layout."""

from __future__ import annotations

from urllib.parse import quote

from . import convert
from .record import DatasetRecord, RemoteFile

__all__ = ["REGISTRY"]


# ---------------------------------------------------------------------------------- sources
_GITHUB_RAW = "https://raw.githubusercontent.com"
#: yuan-li/truth-inference-at-scale at the commit whose files our hashes were computed from
_TI_COMMIT = "ff6d32971fb3ca17e2f0c784a126d8b26495dbce"
_TI_BASE = f"{_GITHUB_RAW}/yuan-li/truth-inference-at-scale/{_TI_COMMIT}/data"
_TI_HOME = "https://github.com/yuan-li/truth-inference-at-scale"
#: shahanaibrahimosu/end-to-end-crowdsourcing at the commit holding data/Music/*.csv
_MUSIC_COMMIT = "35c01c53e27eb0580648bc2b4142ad368e03882e"
_MUSIC_BASE = (f"{_GITHUB_RAW}/shahanaibrahimosu/end-to-end-crowdsourcing/{_MUSIC_COMMIT}"
               "/data/Music")
_RODRIGUES = "http://fprodrigues.com"
_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist",
                  "http://yann.lecun.com/exdb/mnist")

CIFAR10_ARCHIVE = RemoteFile(
    "cifar-10-python.tar.gz", (_CIFAR10_URL,), sha256=None, size=170_498_071,
    md5="c58f30108f718f92721af3b95e74349a",
    members=("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
             "test_batch", "batches.meta"),
    cache="cifar10",
)

_UNSPECIFIED = "unspecified by the publisher (research benchmark; cite the paper)"
_TI_NOTE = (f"label.csv (item,worker,label) and truth.csv (item,truth) as distributed in "
            f"{_TI_HOME} (commit {_TI_COMMIT[:10]}), SHA-256 pinned.")
_TI_CITE = ("Files as distributed with: Li, Y., Rubinstein, B. I. P., & Cohn, T. (2019). "
            "Exploiting worker correlation for label aggregation in crowdsourcing. ICML.")


def _ti_files(folder: str, label: tuple[str, int], truth: tuple[str, int],
              mirror: str | None = None) -> tuple[RemoteFile, RemoteFile]:
    def urls(fname: str) -> tuple[str, ...]:
        out = [f"{_TI_BASE}/{quote(folder)}/{fname}"]
        if mirror:
            out.append(f"{_TI_BASE}/{quote(mirror)}/{fname}")
        return tuple(out)

    return (RemoteFile("label.csv", urls("label.csv"), sha256=label[0], size=label[1]),
            RemoteFile("truth.csv", urls("truth.csv"), sha256=truth[0], size=truth[1]))


def _ti(name: str, description: str, folder: str, label: tuple[str, int],
        truth: tuple[str, int], sizes: tuple[int, int, int, int], citation: str,
        reference: str, *, aliases: tuple[str, ...] = (), mirror: str | None = None,
        notes: str = "") -> DatasetRecord:
    n_answers, n_tasks, n_workers, n_classes = sizes
    return DatasetRecord(
        name=name, description=description, kind="labels",
        files=_ti_files(folder, label, truth, mirror),
        n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes, n_answers=n_answers,
        licence=_UNSPECIFIED, citation=f"{citation} {_TI_CITE}", reference=reference,
        homepage=_TI_HOME, prepare=convert.prepare_truth_inference, aliases=aliases,
        notes=" ".join(filter(None, (_TI_NOTE, notes))),
    )


_SNOW = ("Snow, R., O'Connor, B., Jurafsky, D., & Ng, A. Y. (2008). Cheap and fast - but is it "
         "good? Evaluating non-expert annotations for natural language tasks. EMNLP.")
_ZHOU = ("Zhou, D., Basu, S., Mao, Y., & Platt, J. C. (2012). Learning from the wisdom of "
         "crowds by minimax entropy. NeurIPS 25.")
_ZHENG = ("Zheng, Y., Li, G., Li, Y., Shan, C., & Cheng, R. (2017). Truth inference in "
          "crowdsourcing: is the problem solved? PVLDB 10(5).")
_ACT = ("Venanzi, M., Parson, O., Rogers, A., & Jennings, N. R. (2015). The ActiveCrowdToolkit: "
        "an open-source tool for benchmarking active learning algorithms for crowdsourcing "
        "research. HCOMP.")
_RODRIGUES_ICML = ("Rodrigues, F., Pereira, F. C., & Ribeiro, B. (2014). Gaussian process "
                   "classification and active learning with multiple annotators. ICML.")
_GTZAN = ("Audio: Tzanetakis, G., & Cook, P. (2002). Musical genre classification of audio "
          "signals. IEEE Transactions on Speech and Audio Processing 10(5).")
_CIFAR_CITE = ("Krizhevsky, A. (2009). Learning multiple layers of features from tiny images. "
               "Technical report, University of Toronto.")

_RECORDS: tuple[DatasetRecord, ...] = (
    DatasetRecord(
        name="music",
        description="Music genre classification: 700 songs labelled by 44 Mechanical Turk "
        "workers (10 genres), 124 audio features per song, 300 test songs.",
        kind="features",
        files=(
            RemoteFile("music_genre_gold.csv", (f"{_MUSIC_BASE}/music_genre_gold.csv",),
                       sha256="28cd73e9bf555e5847de0b0fc4c4998264d4a272d657c452edf2c93c206bda64",
                       size=802_222),
            RemoteFile("music_genre_test.csv", (f"{_MUSIC_BASE}/music_genre_test.csv",),
                       sha256="952b423483bef4e0aa38b628815232b600a745d028fc8dfe8addd49e616931b8",
                       size=344_469),
            RemoteFile("music_genre_mturk.csv", (f"{_MUSIC_BASE}/music_genre_mturk.csv",),
                       sha256="20abf70b06d77653742125d8ae57a6b46d3e6d5e0291de4fc9c76d433cd9b834",
                       size=3_413_459),
        ),
        n_tasks=700, n_workers=44, n_classes=10, n_answers=2945,
        licence=_UNSPECIFIED, citation=f"{_RODRIGUES_ICML} {_GTZAN}",
        reference="Rodrigues et al. 2014", homepage=f"{_RODRIGUES}/",
        prepare=convert.prepare_music,
        notes=f"Downloaded from GitHub (shahanaibrahimosu/end-to-end-crowdsourcing, data/Music, "
        f"commit {_MUSIC_COMMIT[:10]}).",
        manual=f"Rodrigues' own archive {_RODRIGUES}/mturk-datasets.tar.gz holds the same "
        "files (music_genre_classification/): it can be given to --from as it is.",
    ),
    DatasetRecord(
        name="labelme",
        description="LabelMe scenes: 1,000 training images labelled by 59 Mechanical Turk "
        "workers (8 classes), 500 validation and 1,188 test images.",
        kind="images",
        files=(RemoteFile("deep_LabelMe.tar.gz", (f"{_RODRIGUES}/deep_LabelMe.tar.gz",),
                          members=("answers.txt", "filenames_train.txt")),),
        n_tasks=1000, n_workers=59, n_classes=8, n_answers=2547,
        licence=_UNSPECIFIED,
        citation="Rodrigues, F., & Pereira, F. C. (2018). Deep learning from crowds. AAAI. "
        "Images: Russell, B. C., Torralba, A., Murphy, K. P., & Freeman, W. T. (2008). "
        "LabelMe: a database and web-based tool for image annotation. IJCV 77.",
        reference="Rodrigues & Pereira 2018", homepage=f"{_RODRIGUES}/",
        prepare=convert.prepare_labelme,
        notes="Classes in alphabetical order as peerannot's installer (CrowdLayer's class "
        "indices are converted); images renamed train/<class>/<stem>-<task>.jpg.",
    ),
    DatasetRecord(
        name="cifar10h",
        description="CIFAR-10H: the 10,000 CIFAR-10 test images, each labelled by about 51 "
        "of 2,571 Mechanical Turk workers (attention checks dropped), with the images.",
        kind="images",
        files=(
            RemoteFile("cifar10h-raw.zip",
                       ("https://github.com/jcpeterson/cifar-10h/raw/master/data/"
                        "cifar10h-raw.zip",
                        f"{_GITHUB_RAW}/jcpeterson/cifar-10h/master/data/cifar10h-raw.zip"),
                       members=("cifar10h-raw.csv",)),
            CIFAR10_ARCHIVE,
        ),
        n_tasks=10_000, n_workers=2571, n_classes=10, n_answers=514_200,
        licence="CC BY-NC-SA 4.0 (CIFAR-10H answers); CIFAR-10 images: see cifar10",
        citation="Peterson, J. C., Battleday, R. M., Griffiths, T. L., & Russakovsky, O. "
        "(2019). Human uncertainty makes classification more robust. ICCV. " + _CIFAR_CITE,
        reference="Peterson et al. 2019", homepage="https://github.com/jcpeterson/cifar-10h",
        prepare=convert.prepare_cifar10h, aliases=("cifar-10h",),
        notes="Rows with is_attn_check == 1 are dropped (as peerannot does); task i is CIFAR-10 "
        "test image i; the truth is the CIFAR-10 test label.",
    ),
    DatasetRecord(
        name="cifar10",
        description="CIFAR-10 images (python batches) for simulated-annotator experiments: "
        "50,000 training and 10,000 test images, 10 classes.",
        kind="images", files=(CIFAR10_ARCHIVE,),
        n_tasks=50_000, n_workers=None, n_classes=10, n_answers=None,
        licence="no licence stated by the publisher (cite the technical report)",
        citation=_CIFAR_CITE, reference="Krizhevsky 2009",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        prepare=convert.prepare_cifar10, aliases=("cifar-10", "synthetic-cifar10"),
        notes="Checked with the publisher's MD5 (no SHA-256 recorded yet). Annotators are "
        "simulated by the experiment protocols.",
    ),
    DatasetRecord(
        name="mnist",
        description="MNIST digits (IDX files) for simulated-annotator experiments: 60,000 "
        "training and 10,000 test images, 10 classes.",
        kind="images",
        files=tuple(
            RemoteFile(f"{stem}.gz", tuple(f"{m}/{stem}.gz" for m in _MNIST_MIRRORS),
                       size=size, md5=md5, members=(stem,))
            for stem, size, md5 in (
                ("train-images-idx3-ubyte", 9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte", 28_881, "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte", 1_648_877, "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte", 4_542, "ec29112dd5afa0611ce80d1b7f02629c"),
            )
        ),
        n_tasks=60_000, n_workers=None, n_classes=10, n_answers=None,
        licence="CC BY-SA 3.0 (as stated for MNIST by its authors)",
        citation="LeCun, Y., Bottou, L., Bengio, Y., & Haffner, P. (1998). Gradient-based "
        "learning applied to document recognition. Proceedings of the IEEE 86(11).",
        reference="LeCun et al. 1998", homepage="http://yann.lecun.com/exdb/mnist/",
        prepare=convert.prepare_mnist, aliases=("synthetic-mnist",),
        notes="Checked with the MD5 checksums torchvision uses (no SHA-256 recorded yet). "
        "Annotators are simulated by the experiment protocols.",
    ),
    _ti("bluebirds", "Bird identification: is there an Indigo Bunting or a Blue Grosbeak in "
        "the image? (Welinder et al.)", "SpectralMethodsMeetEM/bluebird",
        ("e9362c5b1af0dbace899acf1dd8c597dbdf25350285776bea0cf5255bc7bdfa3", 32_556),
        ("6ee30f25a19156cbb2741a8990ccae3bc1d0b60f17c3d560936d442a630d83e8", 549),
        (4212, 108, 39, 2),
        "Welinder, P., Branson, S., Belongie, S., & Perona, P. (2010). The multidimensional "
        "wisdom of crowds. NeurIPS 23.", "Welinder et al. 2010", aliases=("bluebird",)),
    _ti("rte", "Recognising textual entailment: does the hypothesis follow from the text?",
        "SpectralMethodsMeetEM/rte",
        ("2ad788bb36cf9206c496ffdf5e4dec466a1de420bc0c403404e9d3367024ff66", 68_738),
        ("c30bcc6dcdfd703e6e435c24ac7e2da56d85e687be398c365d2b2656c8e7f3cb", 4_701),
        (8000, 800, 164, 2), _SNOW, "Snow et al. 2008"),
    _ti("dog", "Dog breed identification on ImageNet images (4 breeds).",
        "SpectralMethodsMeetEM/dog",
        ("c240c0efc442e4936b35f28424d66fb04e687c0f29b254af94c26e15a71aa820", 70_135),
        ("b299494a7aba3cf5abcd3b0e002f6e899f3e1f1d864a26703325db355555cb76", 4_743),
        (8070, 807, 109, 4), _ZHOU, "Zhou et al. 2012",
        mirror="crowd_truth_inference/s4_Dog data"),
    _ti("web", "Web search relevance judgements (5 levels); truth known for 2,653 items.",
        "SpectralMethodsMeetEM/web",
        ("90b6e66284288079fab48593c61fb7949f964d007fce077b13d21d0b7ab43211", 144_423),
        ("1b215fe642b88107fc07c0f4b9169b70e178f3a65f76926ea1fbeb86fd688c4d", 17_479),
        (15_567, 2665, 177, 5), _ZHOU, "Zhou et al. 2012"),
    _ti("trec", "TREC 2010 relevance feedback track, crowdsourced binary relevance; truth "
        "known for 2,275 items.", "SpectralMethodsMeetEM/trec",
        ("8bfc1d6036ab5b9e489755db7ea89be80a1ec0fe523527cf7966cb52f662696b", 958_855),
        ("e66a5ae31d542fcf1dc929d568d2f9489245fe201e48ff322b7de1f19f9e5dd6", 16_844),
        (88_385, 19_033, 762, 2),
        "Buckley, C., Lease, M., & Smucker, M. D. (2010). Overview of the TREC 2010 relevance "
        "feedback track. TREC.", "Buckley et al. 2010"),
    _ti("cf", "CrowdFlower weather sentiment (5 classes).", "active-crowd-toolkit/CF",
        ("b0f98ddc9afefffcaf9670f591a3441b1bfc3eab70f8e4c35746310962920f06", 16_216),
        ("8d8f1b773b310fa91e550658ef88baedc4c522ccd395a1ffa9c185327b88080f", 1_701),
        (1720, 300, 461, 5), _ACT, "Venanzi et al. 2015"),
    _ti("ms", "Music genre answers only (the crowd answers of 'music', without features).",
        "active-crowd-toolkit/MS",
        ("4e59b88dbe48a0cd545a745c9718f3955729205d29da1bf883adc64bf7a3e378", 25_250),
        ("981c635d5cde03cd903bf319b030178420bc8aa3b6a3b7846abea4e974bc2294", 4_101),
        (2945, 700, 44, 10), f"{_RODRIGUES_ICML} {_ACT}", "Rodrigues et al. 2014"),
    _ti("sp", "Sentence polarity (positive / negative movie review sentences).",
        "active-crowd-toolkit/SP",
        ("f7925ededbb2586bb8c787d29d0dc0fc28103daee5d436e683b42d555780e467", 285_454),
        ("26546f7031104001c4aa134268fe0a5df74e35b5ca7e7b7e56967849024e3ab3", 33_894),
        (27_746, 4999, 203, 2),
        "Rodrigues, F., Pereira, F., & Ribeiro, B. (2013). Learning from multiple annotators: "
        "distinguishing good from random labelers. Pattern Recognition Letters 34(12).",
        "Rodrigues et al. 2013"),
    _ti("zencrowd-all", "ZenCrowd entity linking (binary), all workers.",
        "active-crowd-toolkit/ZenCrowd_all",
        ("2ff13aee821c35744ee94e11b5b0fb127ea33689b5fe35f3603caaecc6aaa289", 203_968),
        ("c9369759a8085f7b228277c4c067cfe35a7ceaf3a90ed524c3def878ede3c5c1", 13_181),
        (21_855, 2040, 78, 2),
        "Demartini, G., Difallah, D. E., & Cudre-Mauroux, P. (2012). ZenCrowd: leveraging "
        "probabilistic reasoning and crowdsourcing techniques for large-scale entity linking. "
        "WWW.", "Demartini et al. 2012",
        notes="label.csv repeats some (item, worker) pairs: every answer is kept "
        "(metadata.json: repeated_answers)."),
    _ti("product", "Product matching: do two product descriptions name the same product?",
        "crowd_truth_inference/d_jn-product",
        ("525098daa3d9aa4919160ecef7daaf65a42d2b92c01ffbb5b5ff17b63110b366", 255_248),
        ("cd86cc6574fa1693520085eb4b4919e6676afbdffbf53b708edadeeb0150d2f6", 57_106),
        (24_945, 8315, 176, 2),
        "Wang, J., Kraska, T., Franklin, M. J., & Feng, J. (2012). CrowdER: crowdsourcing "
        f"entity resolution. PVLDB 5(11). {_ZHENG}", "Wang et al. 2012"),
    _ti("sentiment", "Tweet sentiment (binary).", "crowd_truth_inference/d_sentiment",
        ("44b1df451bab3752540643eb13d0701f1c14d6bd1068a04703691533c8f61cea", 177_298),
        ("ea4d2bfe7a660efaabb6dcb07b8e9dd53d5c9bd5b271895270fa4b9f6946217c", 5_901),
        (20_000, 1000, 85, 2), _ZHENG, "Zheng et al. 2017"),
    _ti("face", "Face sentiment identification (4 classes).",
        "crowd_truth_inference/s4_Face Sentiment Identification",
        ("fc10f625183432f6ed82d783ec0afb4a2e79009843a1c20757baad5c4e469686", 45_172),
        ("503987498b22b586a34bd9211cce88bf4fbb436396ccae3fd5e19a64a5a8dee9", 3_405),
        (5242, 584, 27, 4), _ZHENG, "Zheng et al. 2017"),
    _ti("relevance", "TREC 2011 crowdsourcing track relevance (4 levels); truth known for "
        "4,460 items.", "crowd_truth_inference/s4_Relevance",
        ("0577f8e46cbec9901dd7b33ec3626f95cc70f90c54c86f9df4a02d7a841cd8ca", 1_069_582),
        ("32d8553b523a811a6fdb90051c7bc87e6065bae4471da6e613f9a5f3fbed2709", 33_286),
        (98_453, 20_232, 766, 4), _ZHENG, "Zheng et al. 2017",
        notes="label.csv repeats some (item, worker) pairs: every answer is kept "
        "(metadata.json: repeated_answers)."),
    DatasetRecord(
        name="temp",
        description="Temporal ordering of event pairs (binary; Snow et al.): 462 items, 76 "
        "workers.",
        kind="labels",
        files=(RemoteFile(
            "all_collected_data.tgz",
            ("https://web.archive.org/web/20230331023329/https://sites.google.com/site/"
             "nlpannotations/all_collected_data.tgz?attredirects=0",),
            members=("temp.standardized.tsv",)),),
        n_tasks=462, n_workers=76, n_classes=2, n_answers=4620,
        licence=_UNSPECIFIED, citation=_SNOW, reference="Snow et al. 2008",
        homepage="https://sites.google.com/site/nlpannotations/",
        prepare=convert.prepare_snow_tsv,
        notes="Read from temp.standardized.tsv (columns !amt_annotation_ids, !amt_worker_ids, "
        "orig_id, response, gold); the authors' page survives only in the Internet Archive. "
        "Class names are the original responses (1, 2).",
        manual="--from also accepts temp.standardized.tsv itself (from Snow et al.'s data, "
        "e.g. inside snow2008_mturk_data_with_orig_files_assembled_201904.zip).",
    ),
)

#: every data set, by name
REGISTRY: dict[str, DatasetRecord] = {r.name: r for r in _RECORDS}
