//! Bilingual names: people (Chinese with their pinyin, and English), companies, products.

use rand::Rng;
use rand::seq::IndexedRandom;

/// The most common surnames, roughly in order of frequency, with pinyin.
const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("余", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("苏", "su"),
    ("魏", "wei"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("任", "ren"),
    ("沈", "shen"),
    ("姚", "yao"),
    ("卢", "lu"),
    ("姜", "jiang"),
    ("崔", "cui"),
    ("钟", "zhong"),
    ("谭", "tan"),
    ("陆", "lu"),
    ("汪", "wang"),
    ("范", "fan"),
    ("金", "jin"),
    ("石", "shi"),
    ("廖", "liao"),
    ("贾", "jia"),
    ("夏", "xia"),
    ("韦", "wei"),
    ("付", "fu"),
    ("方", "fang"),
    ("白", "bai"),
    ("邹", "zou"),
    ("孟", "meng"),
    ("熊", "xiong"),
    ("秦", "qin"),
    ("邱", "qiu"),
    ("江", "jiang"),
    ("尹", "yin"),
    ("薛", "xue"),
    ("单", "shan"),
    ("解", "xie"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
];

const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("建", "jian"),
    ("国", "guo"),
    ("文", "wen"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("子", "zi"),
    ("涵", "han"),
    ("思", "si"),
    ("博", "bo"),
    ("瑞", "rui"),
    ("嘉", "jia"),
    ("俊", "jun"),
    ("峰", "feng"),
    ("海", "hai"),
    ("燕", "yan"),
    ("玲", "ling"),
    ("斌", "bin"),
    ("长", "chang"),
    ("重", "chong"),
    ("志", "zhi"),
    ("红", "hong"),
    ("飞", "fei"),
    ("春", "chun"),
    ("东", "dong"),
];

const EN_FIRST: &[&str] = &[
    "James", "Mary", "John", "Linda", "Robert", "Emma", "Michael", "Olivia", "David", "Sophia",
    "William", "Grace", "Richard", "Chloe", "Thomas", "Emily", "Daniel", "Hannah", "Peter", "Lucy",
    "Mark", "Anna",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Lee", "Walker", "Hall", "Young", "King", "Wright",
    "Scott", "Green", "Baker",
];

pub struct Person {
    pub name: String,
    /// For e-mail addresses: "zhang.wei".
    pub romanised: String,
}

pub fn chinese_person(rng: &mut impl Rng) -> Person {
    // Skew toward the common surnames: square of a uniform picks low indexes more often.
    let u: f64 = rng.random();
    let (sur, sur_py) = SURNAMES[((u * u) * SURNAMES.len() as f64) as usize];
    let (g1, p1) = *GIVEN.choose(rng).unwrap();
    if rng.random_bool(0.35) {
        Person {
            name: format!("{sur}{g1}"),
            romanised: format!("{sur_py}.{p1}"),
        }
    } else {
        let (g2, p2) = *GIVEN.choose(rng).unwrap();
        Person {
            name: format!("{sur}{g1}{g2}"),
            romanised: format!("{sur_py}.{p1}{p2}"),
        }
    }
}

pub fn english_person(rng: &mut impl Rng) -> Person {
    let (f, l) = (
        *EN_FIRST.choose(rng).unwrap(),
        *EN_LAST.choose(rng).unwrap(),
    );
    Person {
        name: format!("{f} {l}"),
        romanised: format!("{}.{}", f.to_lowercase(), l.to_lowercase()),
    }
}

const BRAND: &[(&str, &str)] = &[
    ("华", "Hua"),
    ("盛", "Sheng"),
    ("鑫", "Xin"),
    ("达", "Da"),
    ("恒", "Heng"),
    ("泰", "Tai"),
    ("新", "Xin"),
    ("创", "Chuang"),
    ("科", "Ke"),
    ("宏", "Hong"),
    ("远", "Yuan"),
    ("博", "Bo"),
    ("瑞", "Rui"),
    ("通", "Tong"),
    ("信", "Xin"),
    ("安", "An"),
    ("永", "Yong"),
    ("德", "De"),
    ("美", "Mei"),
    ("联", "Lian"),
    ("海", "Hai"),
    ("天", "Tian"),
    ("金", "Jin"),
    ("龙", "Long"),
    ("东", "Dong"),
    ("嘉", "Jia"),
    ("汇", "Hui"),
    ("兴", "Xing"),
];

/// (Chinese, English, share of B2B customers).
pub const INDUSTRIES: &[(&str, &str)] = &[
    ("制造业", "Manufacturing"),
    ("信息技术", "Information Technology"),
    ("批发零售", "Wholesale & Retail"),
    ("金融服务", "Financial Services"),
    ("房地产", "Real Estate"),
    ("医疗健康", "Healthcare"),
    ("教育培训", "Education"),
    ("物流运输", "Logistics"),
    ("餐饮酒店", "Hospitality"),
    ("能源化工", "Energy & Chemicals"),
    ("汽车", "Automotive"),
    ("建筑工程", "Construction"),
];

const TRADE_ZH: &[&str] = &[
    "科技",
    "电子",
    "贸易",
    "实业",
    "信息技术",
    "机械",
    "物流",
    "医疗器械",
    "食品",
    "建设",
];
const TRADE_EN: &[&str] = &[
    "Technology",
    "Electronics",
    "Trading",
    "Industrial",
    "Information",
    "Machinery",
    "Logistics",
    "Medical",
    "Foods",
    "Construction",
];
const SUFFIX_ZH: &[&str] = &[
    "有限公司",
    "有限公司",
    "有限公司",
    "股份有限公司",
    "集团有限公司",
];
const SUFFIX_EN: &[&str] = &["Co., Ltd.", "Co., Ltd.", "Inc.", "Group Co., Ltd.", "Ltd."];

pub struct Company {
    pub name: String,
    /// For the web and e-mail domain: "huaxin-tech".
    pub slug: String,
}

/// A company name; one in eight is an English-named (foreign-invested) company.
pub fn company(rng: &mut impl Rng, city: &str, serial: u64) -> Company {
    let (b1, e1) = *BRAND.choose(rng).unwrap();
    let (b2, e2) = *BRAND.choose(rng).unwrap();
    let t = rng.random_range(0..TRADE_ZH.len());
    let city = city.trim_end_matches(['市', '省']);
    let slug = format!("{}{}-{}", e1.to_lowercase(), e2.to_lowercase(), serial);
    if rng.random_bool(0.125) {
        let s = *SUFFIX_EN.choose(rng).unwrap();
        Company {
            name: format!("{e1}{} {} {s}", e2.to_lowercase(), TRADE_EN[t]),
            slug,
        }
    } else {
        let s = *SUFFIX_ZH.choose(rng).unwrap();
        Company {
            name: format!("{city}{b1}{b2}{}{s}", TRADE_ZH[t]),
            slug,
        }
    }
}

/// (category zh, category en, price range in yuan).
pub const PRODUCT_LINES: &[(&str, &str, u32, u32)] = &[
    ("空调", "Air conditioner", 2_000, 12_000),
    ("冰箱", "Refrigerator", 1_500, 9_000),
    ("洗衣机", "Washing machine", 1_200, 6_000),
    ("笔记本电脑", "Laptop", 3_000, 15_000),
    ("服务器", "Server", 15_000, 120_000),
    ("软件许可", "Software licence", 500, 50_000),
    ("维保服务", "Maintenance plan", 300, 8_000),
    ("办公耗材", "Office supplies", 20, 800),
    ("工业传感器", "Industrial sensor", 200, 5_000),
    ("净水器", "Water purifier", 800, 4_000),
];

pub fn product_name(rng: &mut impl Rng, line: usize, serial: u32) -> (String, String) {
    let (zh, _, _, _) = PRODUCT_LINES[line];
    let (b, e) = *BRAND.choose(rng).unwrap();
    let model = format!(
        "{}{}-{}",
        e.chars().next().unwrap_or('X'),
        serial % 97 + 1,
        rng.random_range(100..999)
    );
    (
        format!("{b}牌{zh} {model}"),
        format!("GX-{:02}-{serial:05}", line),
    )
}
