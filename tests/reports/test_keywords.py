"""Keywords of real-sounding reflections, excerpts, and markdown that user text cannot break."""

from __future__ import annotations

import pytest

from bot.text.segmentation import Segmenter, teaching_segmenter, word_list
from bot.text.split import MARKDOWN_MAX_BYTES
from reports.idf import IdfTable, jieba_idf_file
from reports.keywords import (
    MAX_CHARS,
    ExcerptSource,
    KeywordExtractor,
    default_extractor,
    first_sentences,
    load_stopwords,
    pick_excerpts,
)
from reports.markdown import md_text, pack_sections

# A week of 教学反思 as teachers write them: every one full of 学生, 老师, 教学, 课堂 …
WEEK = [
    "这节课我们围绕整本书阅读展开，学生在课堂上分享了自己的读书笔记。教学中我发现学生的阅读策略比较单一，"
    "老师要多示范预测、提问等阅读策略。",
    "听了李老师的整本书阅读推进课，我很受启发。老师用阅读单引导学生梳理人物关系，学生的课堂参与度很高。"
    "我们学校也可以把整本书阅读和写作结合起来。",
    "本次教研活动让我认识到，整本书阅读不能只布置任务，要在课堂上给学生交流的时间。"
    "小组合作讨论人物形象时，学生说得很有条理。",
    "课堂上我尝试用思维导图帮助学生整理故事情节，学生很喜欢。但教学时间把握得不好，"
    "小组合作环节有些仓促，下次要精简提问。",
    "作为一个新老师，我觉得这节课最大的亮点是阅读策略的指导，学生学会了边读边批注。"
    "思维导图的使用也让学生的表达更清楚。",
    "这节课学生的朗读很投入，老师的评价语言很丰富。我们的教学要更多关注学生的阅读策略，"
    "把课堂还给学生。",
]


# After a 同课异构: real themes, wrapped in the filler teachers write (两位老师, 重新梳理,
# 准备修改, 下一步围绕……), as in examples/week.yaml.
FILLER_WEEK = [
    "两位老师的《秋天的雨》各有特色：一位重朗读感悟，一位重小组合作。我的课堂提问偏碎，"
    "下次要设计有层次的大问题，给学生留足思考时间。",
    "本次同课异构让大家看到了落实语文要素的不同路径。评课环节讨论充分，"
    "下一步联盟将围绕“学习任务设计”开展专题研讨。",
    "听课后我重新梳理了自己的教学设计，准备把“找秋天的颜色”改为小组合作的学习任务，"
    "并在评价语言上更具体一些，下周在班里试一试。",
    "这次活动让我重新思考单元整体教学。两位老师都抓住了语文要素，但学习任务设计有差异，"
    "我准备从学生的真实问题出发修改自己的设计。",
    "两位老师都很重视朗读，我打算重新安排自己的朗读指导，先让学生读准字音，"
    "再尝试用想象画面的方法读出秋雨的美。",
    "评课时大家围绕课堂提问展开讨论，我准备下一步把提问和语文要素结合起来，让问题更清楚、更有层次。",
]
FILLER = (
    "两位",
    "一位",
    "重新",
    "准备",
    "打算",
    "尝试",
    "下一步",
    "围绕",
    "落实",
    "梳理",
    "修改",
    "抓住",
    "出发",
    "各有特色",
    "不同",
    "清楚",
    "结合",
)


# Reflections as teachers dash them off: the themes (同课异构, 小组合作, 评价语言, 朗读, 单元整体教学,
# 学习任务, 提问) wrapped in modal phrases and counting (我要, 更要, 课堂上要留足, 两节课, 补交).
JUNK_WEEK = [
    "听了两节同课异构的课，我要向两位老师学习。课堂上要留足时间让学生朗读，更要关注评价语言。",
    "两节课都用了小组合作，但小组合作的分工还要更明确。我要补交上周的反思，"
    "以后课堂上要多给学生朗读的机会。",
    "这次同课异构让我明白，提问需要有层次。课堂上要留足思考时间，评价语言更要具体，不能只说“很好”。",
    "单元整体教学需要一个大的学习任务来统领。我要把两节课的学习任务连起来，小组合作时还要留足交流的时间。",
    "朗读指导要落到实处。课堂上要留足朗读时间，提问更要指向单元整体教学的目标，一些学生需要个别辅导。",
    "补交一份反思：两节课的提问都很有层次，学习任务清楚。我要在评价语言上多下功夫，"
    "课堂上要给一些后进生更多朗读的机会。",
]
JUNK = ("我要", "更要", "上要", "两节", "两节课", "留足", "补交", "还要", "需要", "一些")


@pytest.fixture(scope="module")
def extractor() -> KeywordExtractor:
    return default_extractor()


def test_teaching_nouns_and_verbs_top_the_list_and_fragments_never_appear(
    extractor: KeywordExtractor,
) -> None:
    found = [(k.word, k.reflections) for k in extractor.top(JUNK_WEEK, 8)]
    assert found == [
        ("朗读", 4),
        ("评价语言", 3),
        ("提问", 3),
        ("单元整体教学", 2),
        ("同课异构", 2),
        ("学习任务", 2),
        ("小组合作", 2),
        ("层次", 2),
    ]
    words = {word for text in JUNK_WEEK for word in extractor.words(text)}
    assert not words & set(JUNK)


def test_without_stop_words_the_parts_of_speech_alone_drop_fragments() -> None:
    # No stop list at all: time words (今天), names (王老师), numerals with a measure word
    # (三节), distinguishing words (上要), adverbs (更加, 明确 as an adverb) and pronouns
    # (这些) go by their tag; nouns, verbs and verbal nouns stay.
    extractor = KeywordExtractor(teaching_segmenter(), IdfTable([]), frozenset())
    text = "今天王老师的三节示范课各有侧重，小组分工上要更加明确，这些朗读方法值得借鉴。"
    assert {"今天", "王老师", "三节", "上要", "更加", "这些"} <= set(teaching_segmenter().cut(text))
    assert extractor.words(text) == [
        "示范课",
        "各有",
        "侧重",
        "小组",
        "分工",
        "朗读",
        "方法",
        "值得",
        "借鉴",
    ]


def test_top_keywords_are_the_weeks_themes_not_filler(extractor: KeywordExtractor) -> None:
    words = [k.word for k in extractor.top(WEEK, 5)]
    assert words[:2] == ["整本书阅读", "阅读策略"]
    assert {"小组合作", "思维导图"} <= set(words)
    stop = load_stopwords()
    for generic in ("学生", "老师", "教学", "课堂", "我们", "一个", "这节课", "教研", "活动"):
        assert generic in stop
        assert generic not in words


def test_filler_words_and_generic_verbs_are_never_keywords(extractor: KeywordExtractor) -> None:
    found = [(k.word, k.reflections) for k in extractor.top(FILLER_WEEK, 8)]
    assert found == [
        ("学习任务", 3),
        ("语文要素", 3),  # a term of the curriculum, kept whole
        ("小组合作", 2),
        ("课堂提问", 2),
        ("朗读", 2),
        ("层次", 2),  # jieba calls it a numeral; the teaching terms make it a noun
    ]  # not 秋天 (2): a time word, here the lesson's title
    words = {word for text in FILLER_WEEK for word in extractor.words(text)}
    stop = load_stopwords()
    for filler in FILLER:
        assert filler in stop
        assert filler not in words


def test_keyword_counts_are_reflections_mentioning_it(extractor: KeywordExtractor) -> None:
    found = {k.word: k.reflections for k in extractor.top(WEEK, 10)}
    assert found["整本书阅读"] == 3
    assert found["阅读策略"] == 3
    assert found["思维导图"] == 2


def test_a_word_from_only_one_reflection_does_not_count(extractor: KeywordExtractor) -> None:
    words = [k.word for k in extractor.top(WEEK, 20)]
    assert "批注" not in words and "读书笔记" not in words


def test_no_text_no_keywords(extractor: KeywordExtractor) -> None:
    assert extractor.top([]) == [] and extractor.top(["", "  "]) == []


class CountingSegmenter(Segmenter):
    """Counts the characters it is asked to cut."""

    def __init__(self) -> None:
        super().__init__(word_list("teaching_terms.txt"))
        self.chars = 0

    def tag(self, text: str) -> list[tuple[str, str]]:
        self.chars += len(text)
        return super().tag(text)


def test_thousands_of_reflections_cost_a_bounded_amount_of_text() -> None:
    # 12,000 reflections, far more than any week: the analysed text stays capped, shared so
    # that every reflection still counts, and the week's theme still wins.
    segmenter = CountingSegmenter()
    extractor = KeywordExtractor(segmenter, IdfTable.read(jieba_idf_file()), load_stopwords())
    many = WEEK * 2000
    words = [k.word for k in extractor.top(many, 5)]
    assert 0 < segmenter.chars <= MAX_CHARS
    assert "整本书阅读" in words


def test_first_sentences_keep_whole_sentences_within_the_limit() -> None:
    text = "第一句话讲目标。第二句话讲过程，比较长一些！第三句不会出现。"
    assert first_sentences(text, 22) == "第一句话讲目标。第二句话讲过程，比较长一些！"
    assert first_sentences(text, 10) == "第一句话讲目标。"
    assert first_sentences("一" * 100, 80) == "一" * 79 + "…"
    assert first_sentences("短句。\n\n  换行也算。", 80) == "短句。 换行也算。"


def test_excerpts_prefer_different_schools_then_length() -> None:
    def source(text: str, school: str, order: float) -> ExcerptSource:
        return ExcerptSource(text=text, school=school, author=f"老师{order:g}", order=order)

    sources = [
        source("甲" * 50, "一小", 1),
        source("乙" * 60, "一小", 2),
        source("丙" * 30, "二小", 3),
        source("丁" * 60, "一小", 0),
    ]
    chosen = [c.author for c, _ in pick_excerpts(sources)]
    # Longest is 60 (tie: the earlier, 老师0); then the longest of another school.
    assert chosen == ["老师0", "老师3"]
    only_one_school = [s for s in sources if s.school == "一小"]
    assert [c.author for c, _ in pick_excerpts(only_one_school)] == ["老师0", "老师2"]


def test_md_text_neutralises_every_markup_character() -> None:
    evil = '**粗** [链](http://x) `代码` <font color="info">绿</font> <@all>\n# 标题 > 引用'
    safe = md_text(evil)
    assert "\n" not in safe
    for char in "*[]()`<>#@":
        assert char not in safe
    assert safe.startswith("＊＊粗＊＊ ［链］（http://x）")
    assert md_text("很长的标题" * 10, 12) == "很长的标题很长的标题很…"


def test_pack_sections_splits_at_sections_within_the_byte_limit() -> None:
    sections = [
        f"**第{i}节**\n" + "\n".join(f"> 第{i}节第{j}行内容" for j in range(40)) for i in range(8)
    ]
    parts = pack_sections("## 标题", sections, MARKDOWN_MAX_BYTES)
    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part.encode()) <= MARKDOWN_MAX_BYTES
        assert part.startswith("## 标题" if number == 1 else f"## 标题（续{number}）")
    body = "\n".join(parts)
    for i in range(8):
        assert body.count(f"**第{i}节**") == 1  # whole sections, never cut in two
    huge = ["\n".join(f"> 行{j}" + "字" * 50 for j in range(200))]
    for part in pack_sections("## 大", huge, 2048):
        assert len(part.encode()) <= 2048
